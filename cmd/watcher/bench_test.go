package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/dcs-watcher/watcher/internal/bench"
)

// TestMain lets the test binary stand in for the watcher binary: the bench
// re-executes os.Executable() for its simulator and measurement children,
// and under `go test` that is this binary, which must then run the command
// line it is given instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv(bench.ChildEnv) == "1" {
		os.Exit(runCLI(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
	}
	os.Exit(m.Run())
}

// TestBenchQuick runs every phase of `watcher bench --quick` and checks
// what must hold whatever the machine: counts, never times.
func TestBenchQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("the quick bench runs for about a minute")
	}
	var out, errb bytes.Buffer
	if code := runCLI([]string{"bench", "--quick"}, &out, &errb, envOf(nil)); code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	report := out.String()
	t.Log(report)
	for _, title := range []string{"## a. ", "## b. ", "## c. ", "## d. ", "## e. ", "## f. ", "## g. "} {
		if !strings.Contains(report, title) {
			t.Errorf("the report has no section %q", title)
		}
	}
	for _, tc := range []struct{ figure, want string }{
		// An unchanged fleet costs no KV write, in either mode.
		{"every_cycle: KV writes after discovery", "0"},
		{"every_cycle, ids: KV writes after discovery", "0"},
		// Configured ids: one detail call per task, no list.
		{"every_cycle, ids: API calls per cycle", "1200"},
		{"on_change: KV writes after discovery", "0"},
		// List-driven: the list pages (1,200 tasks: 2) and no detail call,
		// as no refresh is due in the run.
		{"on_change: list calls per cycle", "2"},
		{"on_change: detail calls per cycle", "0"},
		// Every task of the burst reaches Slack.
		{"tasks covered", "5 of 5"},
		{"tasks dropped", "0"},
		{"status_changed events published", "5"},
	} {
		if got := figure(report, tc.figure); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.figure, got, tc.want)
		}
	}
	for _, leak := range []string{bench.SimAK, bench.SimSK, "benchwebhooksecret", "Fleet-"} {
		if strings.Contains(report+errb.String(), leak) {
			t.Errorf("the bench output holds a secret (%q)", leak)
		}
	}
}

// figure returns the value column of the report row named figure.
func figure(report, name string) string {
	for _, line := range strings.Split(report, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) > 3 && strings.TrimSpace(cells[1]) == name {
			return strings.TrimSpace(cells[2])
		}
	}
	return "(no row)"
}

func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--only", "nosuch"},
		{"--tasks", "-1"},
		{"--interval", "1500ms"},
		{"--memory-tasks", "10,x"},
		{"--only", "raw", "--tasks", "0"},
	} {
		var out, errb bytes.Buffer
		if code := runCLI(append([]string{"bench"}, args...), &out, &errb, envOf(nil)); code != exitUsage {
			t.Errorf("bench %v: exit %d, want %d; stderr %s", args, code, exitUsage, errb.String())
		}
	}
}

// simulate's fleet flags are checked before anything is served: a flag
// that would be ignored, or a plan the generator cannot make, is a usage
// error.
func TestSimulateFleetFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--burst", "3"},                                               // needs --fleet
		{"--fleet", "3", "--scenario", "x.yaml"},                       // one or the other
		{"--fleet", "3", "--burst", "4", "--burst-at", "1s"},           // more than the fleet
		{"--fleet", "3", "--change-rate", "2/s", "--change-for", "0s"}, // an empty window
		{"--fleet", "3", "--change-rate", "fast"},                      // not a rate
		{"--fleet", "3", "--start", "yesterday"},
	} {
		var out, errb bytes.Buffer
		if code := runCLI(append([]string{"simulate", "--listen", "127.0.0.1:0"}, args...), &out, &errb, envOf(nil)); code != exitUsage {
			t.Errorf("simulate %v: exit %d, want %d; stderr %s", args, code, exitUsage, errb.String())
		}
	}
}
