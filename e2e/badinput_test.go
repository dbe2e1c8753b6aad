package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/e2e/fixture"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/state"
)

// badInputScenario has one task that changes status at 55 s, with a fault
// on [10 s, 15 s) given by the test case.
func badInputScenario(fault string) string {
	return fmt.Sprintf(`
project_id: %s
tasks:
  - id: %s
    name: orders-move
    migration_type: online_migration
    source: {name: orders-old, addrs: "10.0.0.1:6379", port: "6379", db: "0", password: %s}
    target: {name: orders-new, addrs: "10.0.0.2:6379", port: "6379", db: "0", password: %s}
    steps:
      - {at: 0s, status: RUNNING, source_task_status: RUNNING, target_task_status: RUNNING}
      - {at: 55s, status: FULLMIGRATING}
faults:
%s
`, project, taskA, srcPassword, dstPassword, fault)
}

// TestBadInput feeds each kind of bad answer to the watcher between two good
// ones: the cycle reports it (an event where the design says so, a log line
// naming the task), keeps the previous snapshot, and the next good answer is
// diffed against it as if nothing had happened.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name   string
		fault  string
		mutate func(*config.Config)
		// events expected from the faulty cycle (at 12 s) and the first good
		// one after it (at 50 s), beyond the status change at 56 s.
		during, after []string
		logs          string
	}{
		{"malformed JSON", `  - {at: 10s, for: 5s, kind: malformed, task: ` + taskA + `}`, nil,
			[]string{"watch_degraded " + taskA + " RUNNING"}, []string{"watch_recovered " + taskA + " RUNNING"}, "bad_response"},
		{"body over the limit", `  - {at: 10s, for: 5s, kind: oversized, bytes: 200000, task: ` + taskA + `}`,
			func(c *config.Config) { c.DCS.MaxBodyBytes = 64 << 10 },
			[]string{"watch_degraded " + taskA + " RUNNING"}, []string{"watch_recovered " + taskA + " RUNNING"}, "exceeds"},
		// Under the body cap but past what a NATS message holds once
		// stored: refused like a malformed answer, not taken for a store outage.
		{"one field of 2 MiB", `  - {at: 10s, for: 5s, kind: oversized, bytes: 2097152, task: ` + taskA + `}`, nil,
			[]string{"watch_degraded " + taskA + " RUNNING"}, []string{"watch_recovered " + taskA + " RUNNING"}, "description: 2097152 bytes"},
		{"null and missing fields", `  - {at: 10s, for: 5s, kind: nulls, task: ` + taskA + `}`, nil, nil, nil, ""},
		{"numbers where strings are documented", `  - {at: 10s, for: 5s, kind: numbers, task: ` + taskA + `}`, nil, nil, nil, ""},
		{"HTTP 500", `  - {at: 10s, for: 5s, kind: server_error, task: ""}`, nil,
			[]string{"watch_degraded _api NONE"}, []string{"watch_recovered _api NONE"}, "DCS.5000"},
		{"HTTP 429", `  - {at: 10s, for: 5s, kind: throttle, task: ""}`, nil,
			[]string{"watch_degraded _api NONE"}, []string{"watch_recovered _api NONE"}, "APIGW.0308"},
		{"HTTP 401", `  - {at: 10s, for: 5s, kind: auth, task: ""}`, nil,
			[]string{"watch_degraded _api NONE"}, []string{"watch_recovered _api NONE"}, "APIGW.0301"},
		{"slow answer", `  - {at: 10s, for: 5s, kind: slow, delay: 3s, task: ` + taskA + `}`,
			func(c *config.Config) { c.DCS.Timeout = 300 * time.Millisecond },
			[]string{"watch_degraded _api NONE"}, []string{"watch_recovered _api NONE"}, "unavailable"},
	}
	// Every case runs polling every task every cycle; the API-wide ones
	// also list-driven, which makes no detail call for an unchanged row
	// (so a fault of one task's detail answer is not met there).
	type run struct {
		name, detail string
	}
	for _, tc := range cases {
		runs := []run{{tc.name, config.DetailEveryCycle}}
		if strings.Contains(tc.fault, `task: ""`) {
			runs = append(runs, run{tc.name + ", list-driven", config.DetailOnChange})
		}
		for _, r := range runs {
			t.Run(r.name, func(t *testing.T) {
				testBadInput(t, tc.fault, r.detail, tc.mutate, tc.during, tc.after, tc.logs)
			})
		}
	}
}

func testBadInput(t *testing.T, fault, detail string, mutate func(*config.Config), during, after []string, logs string) {
	h := newHarness(t, badInputScenario(fault), func(c *config.Config) {
		c.Poll.Detail = detail
		if mutate != nil {
			mutate(c)
		}
	})
	h.cycleAt(0)
	before, _ := h.app.Snaps.Get(project, taskA)
	if before.Task == nil {
		t.Fatal("no snapshot after the first cycle")
	}
	n0 := len(h.published())

	h.cycleAt(12 * time.Second)
	if got := summaries(h.published()[n0:]); !slices.Equal(got, during) {
		t.Errorf("events during the fault = %q, want %q", got, during)
	}
	if got, _ := h.app.Snaps.Get(project, taskA); !snapshotEqual(got, before) {
		t.Errorf("snapshot changed by a bad answer:\n got %+v\nwant %+v", got.Task, before.Task)
	}
	if logs != "" && !strings.Contains(h.logs.String(), logs) {
		t.Errorf("logs do not mention %q:\n%s", logs, h.logs.String())
	}
	if logs != "" && !strings.Contains(h.logs.String(), taskA) && !strings.Contains(during[0], "_api") {
		t.Errorf("logs do not name the task")
	}

	n1 := len(h.published())
	h.cycleAt(50 * time.Second)
	h.cycleAt(56 * time.Second)
	want := append(slices.Clone(after), "status_changed "+taskA+" FULLMIGRATING")
	if got := summaries(h.published()[n1:]); !slices.Equal(got, want) {
		t.Errorf("events after the fault = %q, want %q", got, want)
	}
	fixture.AssertNoSecrets(t, map[string]string{"logs": h.logs.String()})
}

func summaries(es []notify.Envelope) []string {
	var out []string
	for _, e := range es {
		out = append(out, fixture.Summary(e))
	}
	return out
}

// snapshotEqual compares the task snapshots: a blindness mark may be added
// to the record, the task itself must stay as it was.
func snapshotEqual(a, b state.Entry) bool {
	return a.Task != nil && diff.Equal(a.Task, b.Task)
}
