package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestStallAcrossKill runs the real binary on one full sync whose progress
// stops at 40% for 28 s, then moves again (to 90% over 10 minutes: no
// second stall while the test runs), with attention.stall_after 3s.
// The watcher is killed with SIGKILL while the stall is open (once Slack
// has it, or the moment the stall opens), started again on the same data
// directory and killed again after its first cycle; the third process
// watches the stall, still open, for several stats answers, then sees
// progress resume (and, in one case, is killed the moment it does and
// started again). The store left on disk must hold one stalled and one
// resumed event of the task, of the same episode, and Slack must have
// each once: the stall neither repeated after the restarts nor forgotten,
// its end not told twice.
func TestStallAcrossKill(t *testing.T) {
	testutil.Long(t, "runs the binary for about 50 s per case")
	// "slack: message delivered" is logged once the delivery is marked: a
	// kill between Slack's answer and the mark is the documented
	// at-least-once window, not what this is about. "attention episodes"
	// comes just before the episode's commit: a kill there falls around
	// the commit, before the event is on the stream or in Slack.
	delivered := []string{`"message":"slack: message delivered"`, `"kind":"stalled"`}
	opening := []string{`"message":"attention episodes"`, `"opened":1`}
	clearing := []string{`"message":"attention episodes"`, `"cleared":1`}
	for _, c := range []struct {
		name            string
		killAt, killEnd []string // the first kill's log line; the last kill's, nil for none
	}{
		{"after Slack has it", delivered, nil},
		{"as it opens and as it clears", opening, clearing},
	} {
		t.Run(c.name, func(t *testing.T) { stallAcrossKill(t, c.killAt, c.killEnd) })
	}
}

// stallAcrossKill is a case of TestStallAcrossKill: the first kill at the
// first log line that holds every one of killAt, a last one at the first
// line after the stall's two kills that holds every one of killEnd.
func stallAcrossKill(t *testing.T, killAt, killEnd []string) {
	const task = "0e0000000000000000000000000005a1"
	const stallAt, resumeAt = 2 * time.Second, 30 * time.Second
	bin := watcherBinary(t)
	start := time.Now().Add(2 * time.Second)
	scenario := testutil.WriteFile(t, "stall.yaml", fmt.Sprintf(`project_id: %s
tasks:
  - id: %s
    name: orders-full-sync
    steps:
      - {at: 0s, status: FULLMIGRATING, progress: {percent: {from: 10, to: 40, over: %s}, source_dbsize: 4000000}}
      - {at: %s, progress: {percent: {from: 40, to: 90, over: 10m}}}
`, sim.FleetProjectID, task, stallAt, resumeAt))
	api := startSimChild(t, bin, "--scenario", scenario, "--start", start.UTC().Format(time.RFC3339Nano))
	slack := newSlackServer(t)
	dataDir := t.TempDir()
	cfg := testutil.WriteFile(t, "watcher.yaml", fmt.Sprintf(`log: {level: debug, format: json}
data_dir: %q
dcs: {endpoint: %q, project_id: %q, rate_limit: 1000, timeout: 5s}
poll: {schedule: "@every 1s", discover: true, detail: on_change}
nats: {listen: "127.0.0.1:0"}
slack: {enabled: true, group_min: 0, rate: 10, min_retry_delay: 200ms, max_retry_delay: 2s, timeout: 5s}
attention: {stall_after: 3s}
`, dataDir, api, sim.FleetProjectID))
	env := watcherEnv(slack.URL)
	logs := &testutil.SyncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Slack: %q\nwatcher logs (last 8000 bytes):\n%s", slack.texts(), tail(logs.String(), 8000))
		}
	})
	w := startWatcher(t, bin, cfg, env, logs)

	testutil.EventuallyWithin(t, 25*time.Second, "the moment to kill", func() bool { return hasLine(logs.String(), killAt...) })
	if open := time.Until(start.Add(resumeAt)); open < 12*time.Second {
		t.Fatalf("the moment to kill came %s before progress resumes: the machine is too slow for this test", open)
	}
	w.kill()
	firstKill := time.Now()

	// The adversary's kill: right after the restart's first cycle, which
	// judged the stall on the episode its record keeps and one sample.
	mark := len(logs.String())
	w = startWatcher(t, bin, cfg, env, logs)
	testutil.EventuallyWithin(t, 15*time.Second, "the restart's first cycle", func() bool {
		return strings.Contains(logs.String()[mark:], `"message":"cycle"`)
	})
	w.kill()
	t.Logf("killed again after the restart's first cycle, %s into the scenario", time.Since(start).Round(time.Millisecond))

	w = startWatcher(t, bin, cfg, env, logs)
	before := statsCalls(t, api)
	testutil.EventuallyWithin(t, 15*time.Second, "three stats answers after the last restart", func() bool {
		return statsCalls(t, api) >= before+3
	})
	if time.Now().After(start.Add(resumeAt)) {
		t.Fatalf("the last watcher had not three stats answers before progress resumed: the machine is too slow for this test")
	}
	t.Logf("the last watcher has had three stats answers at 40%%; progress resumes in %s", time.Until(start.Add(resumeAt)).Round(time.Millisecond))

	if killEnd != nil {
		testutil.EventuallyWithin(t, 30*time.Second, "the moment to kill as the stall clears", func() bool {
			return hasLine(logs.String()[mark:], killEnd...)
		})
		w.kill()
		t.Logf("killed as the stall clears, %s into the scenario", time.Since(start).Round(time.Millisecond))
		w = startWatcher(t, bin, cfg, env, logs)
	}

	// After a kill, Slack waits for the killed run's unacked messages to
	// come back (the consumer's ack wait) before it posts.
	testutil.EventuallyWithin(t, 90*time.Second, "the resumed event delivered to Slack", func() bool {
		return hasLine(logs.String(), `"message":"slack: message delivered"`, `"kind":"resumed"`)
	})
	t.Logf("the end of the stall delivered %s into the scenario", time.Since(start).Round(time.Millisecond))
	w.stop(t)

	v := readDataDir(t, dataDir)
	byKind := map[diff.Kind][]storeEvent{}
	for _, e := range v.events {
		if e.env.Data.TaskID == task {
			byKind[e.env.Data.Kind] = append(byKind[e.env.Data.Kind], e)
		}
	}
	stalled, resumed := byKind[diff.Stalled], byKind[diff.Resumed]
	if len(stalled) != 1 || len(resumed) != 1 {
		t.Fatalf("the task's stream has %d stalled and %d resumed events, want 1 and 1", len(stalled), len(resumed))
	}
	sa, ra := stalled[0].env.Data.Attention, resumed[0].env.Data.Attention
	if sa == nil || ra == nil {
		t.Fatalf("data.attention missing: stalled %+v, resumed %+v", sa, ra)
	}
	if sa.Condition != diff.ProgressStalled || sa.Percent == nil || *sa.Percent != 40 {
		t.Errorf("the stall's episode %+v, want progress_stalled at 40%%", *sa)
	}
	if ra.Condition != sa.Condition || ra.Episode != sa.Episode || ra.ClearedBy != diff.ClearedRecovered {
		t.Errorf("the resumed episode is %s #%d cleared by %q, want the stall's (%s #%d) cleared by recovered",
			ra.Condition, ra.Episode, ra.ClearedBy, sa.Condition, sa.Episode)
	}
	t.Logf("the stall opened %s into the scenario (%s the first kill, at %s), cleared %s into it",
		stalled[0].env.Time.Sub(start).Round(time.Millisecond), map[bool]string{true: "before", false: "after"}[stalled[0].env.Time.Before(firstKill)],
		firstKill.Sub(start).Round(time.Millisecond), resumed[0].env.Time.Sub(start).Round(time.Millisecond))
	if stalled[0].seq > resumed[0].seq {
		t.Errorf("resumed (seq %d) before stalled (seq %d) on the stream", resumed[0].seq, stalled[0].seq)
	}
	ids := slack.idCounts()
	for _, e := range []storeEvent{stalled[0], resumed[0]} {
		if n := ids[e.env.ID]; n != 1 {
			t.Errorf("Slack got the %s event %d times, want once", e.env.Data.Kind, n)
		}
	}
	// No post of another stall or end of stall either (under another id).
	attn := 0
	for _, p := range slack.all() {
		for _, id := range p.ids {
			if id == stalled[0].env.ID || id == resumed[0].env.ID {
				attn++
			}
		}
	}
	if n := len(slack.all()); n != attn {
		t.Errorf("Slack got %d messages, %d of them the stall's two: %q", n, attn, slack.texts())
	}
}

// hasLine reports whether a line of logs holds every one of parts.
func hasLine(logs string, parts ...string) bool {
	for _, line := range strings.Split(logs, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// statsCalls is the number of stats calls the simulator at api has served.
func statsCalls(t *testing.T, api string) int64 {
	t.Helper()
	var c sim.Calls
	simGet(t, api, sim.CallsPath, &c)
	return c.Stats
}
