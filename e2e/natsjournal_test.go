package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestFailedWithinExternalNATSOutage runs the binary against an external
// NATS that is stopped for 25 s (longer than the lease's 15 s TTL) while a
// task goes FULLMIGRATING -> FAILED for 6 s (about six cycles) -> RUNNING. The
// watcher keeps polling through the outage and journals both changes;
// after NATS returns the stream holds both, in order, once, marked
// delayed with the time each was seen, and Slack has posted both.
func TestFailedWithinExternalNATSOutage(t *testing.T) {
	testutil.Long(t, "runs the binary for about 45 s")
	const task = "0e000000000000000000000000000001"
	const failAt, runAt = 15 * time.Second, 21 * time.Second
	bin := watcherBinary(t)
	storeDir := t.TempDir()
	srv := testutil.RunJetStream(t, -1, storeDir)
	port := srv.Addr().(*net.TCPAddr).Port

	start := time.Now().Add(2 * time.Second)
	scenario := testutil.WriteFile(t, "outage.yaml", fmt.Sprintf(`project_id: %s
tasks:
  - id: %s
    name: move-through-outage
    migration_type: online_migration
    steps:
      - {at: 0s, status: FULLMIGRATING}
      - {at: %s, status: FAILED, error_message: "source unreachable"}
      - {at: %s, status: RUNNING}
`, sim.FleetProjectID, task, failAt, runAt))
	api := startSimChild(t, bin, "--scenario", scenario, "--start", start.UTC().Format(time.RFC3339Nano))
	slack := newSlackServer(t)
	logs := &testutil.SyncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watcher logs (last 6000 bytes):\n%s", tail(logs.String(), 6000))
		}
	})
	w := startWatcher(t, bin, watcherConfig(t, t.TempDir(), api, srv.ClientURL()), watcherEnv(slack.URL), logs)

	_, js0 := testutil.Connect(t, srv.ClientURL())
	testutil.EventuallyWithin(t, 30*time.Second, "the task's discovery on the stream", func() bool { return len(readStore(t, js0).events) >= 1 })
	down := time.Now()
	if down.After(start.Add(failAt - 2*time.Second)) {
		t.Fatalf("NATS would go down %s after the FAILED: the machine is too slow for this test", down.Sub(start.Add(failAt)))
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	// The fault lasts 25 s: this wait is its duration, not a guess.
	time.Sleep(25 * time.Second)
	srv = testutil.RunJetStream(t, port, storeDir)
	back := time.Now()
	t.Logf("NATS down from %s to %s into the scenario (FAILED from %s to %s)",
		down.Sub(start).Round(time.Millisecond), back.Sub(start).Round(time.Millisecond), failAt, runAt)

	_, js := testutil.Connect(t, srv.ClientURL())
	var v storeView
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stream: %q; Slack: %q", changesOf(v, task), slack.texts())
		}
	})
	testutil.EventuallyWithin(t, 60*time.Second, "both changes on the stream and in Slack", func() bool {
		v = readStore(t, js)
		if len(changesOf(v, task)) < 2 {
			return false
		}
		ids := slack.idCounts()
		for _, e := range v.events {
			if e.env.Data.TaskID == task && e.env.Data.Kind == "status_changed" && ids[e.env.ID] == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("both on the stream and in Slack %s after NATS returned", time.Since(back).Round(time.Millisecond))
	got := changesOf(v, task)
	want := []string{"FULLMIGRATING->FAILED delayed", "FAILED->RUNNING delayed"}
	for i, c := range got {
		if i >= len(want) || !strings.HasPrefix(c, want[i]) {
			t.Fatalf("the task's status changes on the stream: %q, want %q (each delayed, observed within its status)", got, want)
		}
	}
	if len(got) != 2 {
		t.Fatalf("the task's status changes on the stream: %q, want 2", got)
	}
	for _, e := range v.events {
		if e.env.Data.TaskID != task || e.env.Data.Kind != "status_changed" {
			continue
		}
		seen := e.env.Time.Sub(start)
		lo, hi := failAt, runAt
		if e.env.Data.CurrentStatus.Normalized == "RUNNING" {
			lo, hi = runAt, back.Sub(start)
		}
		if seen < lo || seen > hi+2*time.Second {
			t.Errorf("%s seen at %s into the scenario, outside its status (%s to %s)", e.env.Data.CurrentStatus.Normalized, seen, lo, hi)
		}
		t.Logf("%s: seen %s into the scenario", e.env.Data.CurrentStatus.Normalized, seen.Round(time.Millisecond))
	}
	for _, p := range slack.all() {
		t.Logf("Slack %s after NATS returned: %s", p.at.Sub(back).Round(time.Millisecond), p.text)
	}
	ids := slack.idCounts()
	for _, e := range v.events {
		if e.env.Data.TaskID == task && e.env.Data.Kind == "status_changed" && ids[e.env.ID] != 1 {
			t.Errorf("Slack posted %s (%s) %d times, want once", e.env.ID, e.env.Data.CurrentStatus.Normalized, ids[e.env.ID])
		}
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"component":"lease"`) && (strings.Contains(line, "lease lost") || strings.Contains(line, "polling stopped")) {
			t.Errorf("during a NATS outage with no other replica: %s", line)
		}
	}
	if !strings.Contains(logs.String(), "lease expired unrenewed, NATS unreachable: polling goes on") {
		t.Errorf("no line says the lease expired during the outage and polling went on")
	}
	w.stop(t)
}

// changesOf lists the task's status changes on the stream, in stream
// order, as "FROM->TO delayed" (or "FROM->TO").
func changesOf(v storeView, task string) []string {
	var out []string
	for _, e := range v.events {
		d := e.env.Data
		if d.TaskID != task || d.Kind != "status_changed" {
			continue
		}
		s := d.PreviousStatus.Normalized + "->" + d.CurrentStatus.Normalized
		if d.Delayed {
			s += " delayed"
		}
		out = append(out, s)
	}
	return out
}
