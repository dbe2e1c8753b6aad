package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestValidateProjectLookedUp: a config without dcs.project_id (the id
// comes from IAM at start) says so, instead of an empty "project ,".
func TestValidateProjectLookedUp(t *testing.T) {
	path := testutil.WriteFile(t, "watcher.yaml", "dcs:\n  region: ap-southeast-1\n")
	var out, errb bytes.Buffer
	env := envOf(map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK})
	if code := runCLI([]string{"validate", "-c", path}, &out, &errb, env); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if want := "config ok: project looked up in IAM at start (region ap-southeast-1), "; !strings.HasPrefix(out.String(), want) {
		t.Errorf("stdout %q, want it to start with %q", out.String(), want)
	}
}

// TestSimulateFleetBanner: --change-rate alone is enough (the changes go
// on for an hour), and the banner says the plan in the flags' terms, not
// the offset of the last random change to the nanosecond.
func TestSimulateFleetBanner(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--fleet", "500", "--change-rate", "2/s"}, " 500 task(s), 2 change(s)/s from 0s for 1h0m0s\n"},
		{[]string{"--fleet", "20", "--burst", "5", "--burst-at", "3s"}, " 20 task(s), a burst of 5 at 3s\n"},
		{[]string{"--scenario", "../../configs/scenarios/quirks.yaml"}, " 1 task(s), scenario lasts 20s\n"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithCancel(testutil.Context(t, 20*time.Second))
			defer cancel()
			var out, errb testutil.SyncBuffer
			env := cmdEnv{stdout: &out, stderr: &errb, getenv: envOf(nil)}
			done := make(chan error, 1)
			go func() { done <- cmdSimulate(ctx, env, append([]string{"--listen", "127.0.0.1:0"}, tc.args...)) }()
			testutil.Eventually(t, "the banner", func() bool { return strings.Contains(out.String(), "\n") })
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("simulate: %v (stderr %q)", err, errb.String())
			}
			if !strings.HasSuffix(out.String(), tc.want) {
				t.Errorf("banner %q does not end with %q", out.String(), tc.want)
			}
		})
	}
}

// TestHelpListsExitCodes: every command's -h gives its exit codes, the
// README's table of commands gives the same ones, and the top-level usage
// says what the codes mean.
func TestHelpListsExitCodes(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `watcher ([a-z-]+)[^\\n]* \\| ([^|\\n]+) \\|$")
	inReadme := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		name, exits := m[1], m[2]
		inReadme[name] = true
		if doc, ok := commandDocs[name]; !ok || doc.exits != exits {
			t.Errorf("README: watcher %s exits %q; its -h says %q", name, exits, doc.exits)
		}
	}
	for name, doc := range commandDocs {
		if doc.exits == "" {
			t.Errorf("watcher %s: no exit codes in its help", name)
		}
		if !inReadme[name] {
			t.Errorf("README: no row for watcher %s in the table of commands", name)
		}
		var out, errb bytes.Buffer
		if code := runCLI([]string{name, "-h"}, &out, &errb, envOf(nil)); code != exitOK {
			t.Errorf("watcher %s -h: exit %d", name, code)
		}
		if want := "Exit codes: " + doc.exits; !strings.Contains(out.String(), want) {
			t.Errorf("watcher %s -h lacks %q:\n%s", name, want, out.String())
		}
	}
	var out, errb bytes.Buffer
	runCLI([]string{"-h"}, &out, &errb, envOf(nil))
	if !strings.Contains(out.String(), "Exit codes: 0 ok, 1 the command ran and failed, 2 bad flags or a bad config") {
		t.Errorf("watcher -h does not give the exit codes:\n%s", out.String())
	}
}

// TestOnceBesideRunningWatcher: once on a data directory that a running
// watcher holds (its embedded NATS and store) is refused at once with who
// holds it and what to do, not a bind error; once that watcher stops,
// once runs and ends with its summary line.
func TestOnceBesideRunningWatcher(t *testing.T) {
	sc, err := sim.ParseScenario([]byte(e2eScenario))
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(sim.New(sc, sim.Options{AK: plantedAK, SK: plantedSK}))
	defer api.Close()
	data := filepath.Join(t.TempDir(), "data")
	path := testutil.WriteFile(t, "watcher.yaml", "data_dir: "+data+"\ndcs:\n  endpoint: "+api.URL+
		"\nnats:\n  listen: 127.0.0.1:0\nlog:\n  format: json\n")
	env := envOf(map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project})
	cfg, err := config.Load(path, env)
	if err != nil {
		t.Fatal(err)
	}
	running, err := app.Start(testutil.Context(t, 20*time.Second), cfg, app.Options{Logger: zerolog.Nop(), NoSlack: true})
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := runCLI([]string{"once", "-c", path}, &out, &errb, env)
	running.Stop()
	if code != exitFailure {
		t.Fatalf("once beside a running watcher: exit %d, want %d; stderr %s", code, exitFailure, errb.String())
	}
	for _, want := range []string{data + " is in use by pid " + strconv.Itoa(os.Getpid()), "stop that watcher first", "watcher tail"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	out.Reset()
	errb.Reset()
	if code := runCLI([]string{"once", "-c", path}, &out, &errb, env); code != exitOK {
		t.Fatalf("once after the watcher stopped: exit %d; stderr %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "once: 3 task(s), 3 event(s) published, 3 detail, ") {
		t.Errorf("once's last stderr line %q is not its summary", last)
	}
}

// TestDemoQuirksReachesItsPoint: the quirks scenario's demo runs until the
// watcher has seen the task's last state after the faults, the 401 whose
// 30 s pause outlasts the scenario among them: its SUCCESS is reported.
func TestDemoQuirksReachesItsPoint(t *testing.T) {
	testutil.Long(t, "the quirks demo lasts about 50 s: its 401 pauses polling for 30 s")
	var out, errb testutil.SyncBuffer
	code := runCLI([]string{"demo", "--scenario", "../../configs/scenarios/quirks.yaml"}, &out, &errb, envOf(nil))
	if code != exitOK {
		t.Fatalf("demo: exit %d; stderr %s", code, errb.String())
	}
	for _, want := range []string{"NATS  status_changed      quirky-import        MIGRATING -> SUCCESS",
		"description: 2097152 bytes, more than the 16384 a field of a task may hold", "1 status_changed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
