package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/e2e/fixture"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestConfigErrorsFailFast: validate and run refuse a bad config at once,
// with exit code 2 and a message naming the key, and never echo a secret.
func TestConfigErrorsFailFast(t *testing.T) {
	creds := map[string]string{
		"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK,
		"HUAWEICLOUD_SDK_PROJECT_ID": project,
	}
	cases := []struct {
		name, yaml string
		env        map[string]string
		want       string
	}{
		{"unknown key", "poll:\n  schedule: \"@every 30s\"\n  scheduel: x\n", creds, `poll.scheduel`},
		{"bad cron spec", "poll:\n  schedule: \"@evry 5s\"\n", creds, `poll.schedule`},
		{"missing credential", "dcs:\n  project_id: " + project + "\n  credentials: config\n", nil, `dcs.ak`},
		{"half a credential", "dcs:\n  project_id: " + project + "\n", map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK}, `dcs.sk`},
		// Without a region there is no project to look up in IAM.
		{"missing project", "dcs:\n  region: \"\"\n  endpoint: https://dcs.example\n", map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK}, `dcs.project_id`},
		{"slack without webhook", "slack:\n  enabled: true\n", creds, `slack.webhook_url`},
	}
	for _, tc := range cases {
		for _, cmd := range []string{"validate", "run", "once"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				path := testutil.WriteFile(t, "watcher.yaml", tc.yaml)
				var out, errb bytes.Buffer
				start := time.Now()
				code := runCLI([]string{cmd, "-c", path}, &out, &errb, envOf(tc.env))
				if code != exitUsage {
					t.Fatalf("exit code %d, want %d; stderr: %s", code, exitUsage, errb.String())
				}
				if !strings.Contains(errb.String(), tc.want) {
					t.Errorf("stderr %q does not name %s", errb.String(), tc.want)
				}
				if time.Since(start) > 5*time.Second {
					t.Errorf("took %s: a bad config must fail before anything starts", time.Since(start))
				}
				fixture.AssertNoSecrets(t, map[string]string{"stdout": out.String(), "stderr": errb.String()})
			})
		}
	}
}

func TestValidateGoodConfig(t *testing.T) {
	path := testutil.WriteFile(t, "watcher.yaml", "poll:\n  schedule: \"*/5 * * * *\"\n")
	var out, errb bytes.Buffer
	code := runCLI([]string{"validate", "-c", path}, &out, &errb, envOf(map[string]string{
		"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project,
	}))
	if code != exitOK || !strings.Contains(out.String(), "config ok") || !strings.Contains(out.String(), project) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// TestValidatePrintsHeartbeat: validate says whether the heartbeat is on
// and whether it pings, never the ping URL (it holds the check's token),
// whether the file or WATCHER_HEARTBEAT_PING_URL gives it.
func TestValidatePrintsHeartbeat(t *testing.T) {
	const ping = "https://hc-ping.example/validate-PING-TOKEN-77"
	creds := map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project}
	withEnv := maps.Clone(creds)
	withEnv["WATCHER_HEARTBEAT_PING_URL"] = ping
	for _, tc := range []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{"default", "{}\n", creds, "heartbeat: every 1m0s on dcs.migration._watcher.heartbeat, no ping\n"},
		{"off", "heartbeat: {every: 0s}\n", creds, "heartbeat: off, no ping\n"},
		{"ping from the file", "heartbeat: {every: 30s, ping_url: " + ping + ", ping_timeout: 5s}\n", creds,
			"heartbeat: every 30s on dcs.migration._watcher.heartbeat, ping <secret> after each successful cycle (timeout 5s)\n"},
		{"ping from the env", "{}\n", withEnv,
			"heartbeat: every 1m0s on dcs.migration._watcher.heartbeat, ping <secret> after each successful cycle (timeout 10s)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := testutil.WriteFile(t, "watcher.yaml", tc.file)
			var out, errb bytes.Buffer
			if code := runCLI([]string{"validate", "-c", path}, &out, &errb, envOf(tc.env)); code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, errb.String())
			}
			if !strings.HasSuffix(out.String(), tc.want) {
				t.Errorf("stdout %q does not end with %q", out.String(), tc.want)
			}
			if strings.Contains(out.String()+errb.String(), "PING-TOKEN") {
				t.Errorf("output holds the ping URL: %s%s", out.String(), errb.String())
			}
		})
	}
}

// TestValidatePrintsSlackMode: validate says how the watcher will post to
// Slack: a webhook, a bot channel (not "webhook" for a bot-token config),
// routes in order and then the default destination; never a webhook URL
// nor the bot token.
func TestValidatePrintsSlackMode(t *testing.T) {
	const hook, token = "https://hooks.slack.example/services/T0/B0/validateSECRETpath", "xoxb-validate-secret-token"
	creds := map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project}
	for _, tc := range []struct{ name, slack, want string }{
		{"off", "slack: {enabled: false}\n", "slack off\n"},
		{"webhook", "slack: {enabled: true, webhook_url: " + hook + "}\n", "slack webhook\n"},
		{"bot channel", "slack: {enabled: true, bot_token: " + token + ", channel: \"#deploys\"}\n", "slack bot channel #deploys\n"},
		{"bot token unused", "slack: {enabled: true, bot_token: " + token + ", webhook_url: " + hook + "}\n",
			"slack webhook (slack.bot_token is set but unused: no slack.channel nor route channel)\n"},
		{"routes", "slack:\n  enabled: true\n  bot_token: " + token + "\n  channel: \"#deploys\"\n  routes:\n" +
			"    - {name: pager, channel: \"#oncall\", match: {outcome: [failed]}}\n    - {name: team, webhook_url: " + hook + "}\n",
			"slack routes (pager: bot channel #oncall; team: webhook), bot channel #deploys\n"},
		{"default route", "slack:\n  enabled: true\n  default_route: team\n  routes:\n    - {name: team, webhook_url: " + hook + "}\n",
			"slack routes (team: webhook), default route team\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := testutil.WriteFile(t, "watcher.yaml", tc.slack)
			var out, errb bytes.Buffer
			if code := runCLI([]string{"validate", "-c", path}, &out, &errb, envOf(creds)); code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, errb.String())
			}
			if first, _, _ := strings.Cut(out.String(), "\n"); !strings.HasSuffix(first+"\n", tc.want) {
				t.Errorf("stdout %q: its first line does not end with %q", out.String(), tc.want)
			}
			for _, secret := range []string{"validateSECRETpath", token} {
				if strings.Contains(out.String()+errb.String(), secret) {
					t.Errorf("output holds a secret: %s%s", out.String(), errb.String())
				}
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runCLI([]string{"frobnicate"}, &out, &errb, envOf(nil)); code != exitUsage || !strings.Contains(errb.String(), "unknown command") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// TestOnce runs `watcher once` twice against the simulator with the same
// data directory: the first prints the discovered tasks as JSON lines, the
// second only what changed in between.
func TestOnce(t *testing.T) {
	t0 := time.Now().UTC()
	clk := testutil.NewClock(t0)
	sc, err := sim.ParseScenario([]byte(e2eScenario))
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(sim.New(sc, sim.Options{AK: plantedAK, SK: plantedSK, Clock: clk.Now, Start: t0}))
	defer api.Close()
	path := testutil.WriteFile(t, "watcher.yaml", "data_dir: "+filepath.Join(t.TempDir(), "data")+"\ndcs:\n  endpoint: "+api.URL+
		"\nnats:\n  listen: 127.0.0.1:0\nlog:\n  format: json\n")
	env := envOf(map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project})

	once := func() []notify.Envelope { return runOnce(t, path, env) }
	first := once()
	if len(first) != 3 {
		t.Fatalf("first once printed %d events, want 3 discovered", len(first))
	}
	for _, e := range first {
		if e.Data.Kind != "discovered" {
			t.Errorf("first once: %s", fixture.Summary(e))
		}
	}
	// Only the simulator's clock moves (the CLI signs with the real one; the
	// 10 s apart are well inside the 15 min skew the API allows).
	clk.Set(t0.Add(10 * time.Second))
	second := once()
	var got []string
	for _, e := range second {
		got = append(got, fixture.Summary(e))
	}
	want := []string{
		"status_changed " + taskA + " FULLMIGRATING",
		"task_status_changed " + taskA + " FULLMIGRATING source_instance",
		"task_status_changed " + taskA + " FULLMIGRATING target_instance",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("second once printed %q, want %q", got, want)
	}
}

// runOnce runs `watcher once -c path` and returns the events it printed.
func runOnce(t *testing.T, path string, env func(string) string) []notify.Envelope {
	t.Helper()
	var out, errb bytes.Buffer
	if code := runCLI([]string{"once", "-c", path}, &out, &errb, env); code != exitOK {
		t.Fatalf("once: exit %d: %s", code, errb.String())
	}
	fixture.AssertNoSecrets(t, map[string]string{"stdout": out.String(), "stderr": errb.String()})
	var es []notify.Envelope
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var e notify.Envelope
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("stdout line is not an event: %q: %v", line, err)
		}
		es = append(es, e)
	}
	return es
}

// TestRegionEndpointOverride: with no dcs.endpoint, the region's URL comes
// from the SDK's variable HUAWEICLOUD_SDK_REGION_DCS_<REGION> when set.
func TestRegionEndpointOverride(t *testing.T) {
	sc, err := sim.ParseScenario([]byte(e2eScenario))
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(sim.New(sc, sim.Options{AK: plantedAK, SK: plantedSK}))
	defer api.Close()
	path := testutil.WriteFile(t, "watcher.yaml", "data_dir: "+filepath.Join(t.TempDir(), "data")+
		"\ndcs:\n  region: xx-test-1\nnats:\n  listen: 127.0.0.1:0\nlog:\n  format: json\n")
	env := envOf(map[string]string{
		"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project,
		"HUAWEICLOUD_SDK_REGION_DCS_XX_TEST_1": api.URL,
	})
	if got := runOnce(t, path, env); len(got) != 3 {
		t.Fatalf("once through the region override printed %d events, want 3", len(got))
	}
}

// TestOncePingsAfterSuccess: `watcher once` GETs heartbeat.ping_url at its
// end when its cycle succeeded, and not when the API answered 500; the
// URL (WATCHER_HEARTBEAT_PING_URL, a token in its path) is in no output.
func TestOncePingsAfterSuccess(t *testing.T) {
	t0 := time.Now().UTC()
	clk := testutil.NewClock(t0)
	sc, err := sim.ParseScenario([]byte(e2eScenario)) // the API answers 500 from 25s for 5s
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(sim.New(sc, sim.Options{AK: plantedAK, SK: plantedSK, Clock: clk.Now, Start: t0}))
	defer api.Close()
	const token = "once-PING-TOKEN-42"
	var pings atomic.Int64
	monitor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ping/"+token {
			pings.Add(1)
		}
	}))
	defer monitor.Close()
	path := testutil.WriteFile(t, "watcher.yaml", "data_dir: "+filepath.Join(t.TempDir(), "data")+"\ndcs:\n  endpoint: "+api.URL+
		"\n  timeout: 2s\nnats:\n  listen: 127.0.0.1:0\nlog:\n  format: json\n")
	env := envOf(map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project,
		"WATCHER_HEARTBEAT_PING_URL": monitor.URL + "/ping/" + token})
	once := func(at time.Duration, wantCode int, wantPings int64) {
		t.Helper()
		clk.Set(t0.Add(at))
		var out, errb bytes.Buffer
		if code := runCLI([]string{"once", "-c", path}, &out, &errb, env); code != wantCode {
			t.Fatalf("once at %v: exit %d, want %d: %s", at, code, wantCode, errb.String())
		}
		if strings.Contains(out.String()+errb.String(), token) {
			t.Errorf("once at %v: output holds the ping URL:\n%s", at, errb.String())
		}
		if got := pings.Load(); got != wantPings {
			t.Fatalf("after once at %v: %d ping(s), want %d", at, got, wantPings)
		}
	}
	once(0, exitOK, 1)
	once(26*time.Second, exitFailure, 1) // the API answers 500: no ping
	once(31*time.Second, exitOK, 2)
}
