package poller_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/poller"
)

// newStatsEnv serves scenario with the simulator, whose stats call answers
// the scenario's progress; each watcher started after makes stats calls.
func newStatsEnv(t *testing.T, scenario string) *env {
	e := newEnv(t, scenario, nil)
	e.stats = true
	return e
}

// statsCalls is the stats calls the simulator has answered.
func (e *env) statsCalls() int64 { return e.sim.Calls().Stats }

// TestProgressOnEvents: an active task gets a stats call per cycle; the
// next event of the task carries its last progress and observed rate; a
// cycle where only the progress moved publishes nothing; a pending task
// gets no stats call; once the task has finished its events carry no
// progress and the poller forgets it.
func TestProgressOnEvents(t *testing.T) {
	e := newStatsEnv(t, `project_id: `+project+`
tasks:
  - id: moving
    name: orders
    steps:
      - {at: 0s, status: FULLMIGRATING, progress: {percent: {from: 0, to: 20, over: 10s}, source_dbsize: 1000}}
      - {at: 10s, status: INCRMIGEATING, progress: {percent: 100, lag: 500}}
      - {at: 30s, status: SUCCESS}
  - id: waiting
    steps: [{at: 0s, status: RUNNING}]
`)
	var mu sync.Mutex
	var heard []string
	w := e.newWatcher(poller.Options{Discover: true, OnProgress: func(id, name string, st dcs.Stats, _ time.Time) {
		mu.Lock()
		heard = append(heard, fmt.Sprintf("%s/%s/%.0f", id, name, *st.Percent))
		mu.Unlock()
	}})
	for _, at := range []time.Duration{0, 5 * time.Second} {
		if _, err := w.cycleAt(at); err != nil {
			t.Fatal(err)
		}
	}
	if evs := w.take(); len(evs) != 2 || evs[0].Data.Progress != nil || evs[1].Data.Progress != nil {
		t.Fatalf("first cycles: %v, want two discovered events without progress (none observed yet)", summary(evs))
	}
	if got := e.statsCalls(); got != 2 {
		t.Fatalf("%d stats calls, want 2: the active task's, none of the pending one", got)
	}
	st, at, ok := w.p.Progress("moving")
	if !ok || *st.Percent != 10 || !at.Equal(e.t0.Add(5*time.Second)) {
		t.Fatalf("Progress(moving) = %v at %v (%v), want 10%% at +5s", st.Percent, at, ok)
	}
	mu.Lock()
	if want := "moving/orders/0,moving/orders/10"; strings.Join(heard, ",") != want {
		t.Errorf("OnProgress heard %v, want %s", heard, want)
	}
	mu.Unlock()

	if _, err := w.cycleAt(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	evs := w.take()
	if len(evs) != 1 || evs[0].Data.Kind != "status_changed" {
		t.Fatalf("at 10s: %v, want the status change", summary(evs))
	}
	pr := evs[0].Data.Progress
	if pr == nil || *pr.Percent != 10 || !pr.ObservedAt.Equal(e.t0.Add(5*time.Second)) ||
		pr.PercentPerMinute == nil || *pr.PercentPerMinute != 120 || *pr.SourceDBSize != 1000 || *pr.TargetDBSize != 100 {
		t.Fatalf("status_changed progress = %+v, want 10%% observed at +5s, 120%%/min, sizes 1000 and 100", pr)
	}
	if got := e.statsCalls(); got != 3 {
		t.Fatalf("%d stats calls by 10s, want 3", got)
	}
	if st, _, _ := w.p.Progress("moving"); st.Lag == nil || *st.Lag != 500 {
		t.Errorf("progress in incremental sync: lag %v, want 500", st.Lag)
	}

	if _, err := w.cycleAt(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	evs = w.take()
	if len(evs) != 1 || evs[0].Data.Progress != nil {
		t.Fatalf("at 30s: %v, want the status change to SUCCESS without progress", summary(evs))
	}
	if _, _, ok := w.p.Progress("moving"); ok {
		t.Errorf("the poller still keeps the progress of a finished task")
	}
	if _, err := w.cycleAt(35 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := e.statsCalls(); got != 3 {
		t.Errorf("%d stats calls by 35s, want still 3: none of the finished task", got)
	}
}

// activeFleet is n tasks in MIGRATING from the start, their percentage
// rising by 1 a second, then extra YAML (more tasks, then faults).
func activeFleet(n int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "project_id: %s\ntasks:\n", project)
	for i := range n {
		fmt.Fprintf(&b, "  - id: %s\n    steps: [{at: 0s, status: MIGRATING, progress: {percent: {from: 0, to: 100, over: 100s}, lag: 7}}]\n", taskID(i))
	}
	b.WriteString(extra)
	return b.String()
}

// settle has a watcher with budget to spare read the whole fleet at 0s,
// so that the watchers started after know every task.
func settle(t *testing.T, e *env) {
	t.Helper()
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: 1000, Interval: 5 * time.Second})
	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
}

// TestStatsAfterChangedRows: with a budget of 4 calls a cycle, a cycle in
// which two rows show a status change makes the list call, the two detail
// calls that complete those snapshots, and one stats call with what is
// left; a cycle without changes spends the list, and shares the other 3
// calls: 2 stats calls (at least half) and 1 refresh.
func TestStatsAfterChangedRows(t *testing.T) {
	e := newStatsEnv(t, activeFleet(4, `  - id: task-0004
    steps: [{at: 0s, status: MIGRATING}, {at: 10s, status: INCRMIGEATING}]
  - id: task-0005
    steps: [{at: 0s, status: MIGRATING}, {at: 10s, status: INCRMIGEATING}]
`))
	settle(t, e)
	// 1 call/s over a 5 s interval: 4 calls a cycle, 1 of them the list.
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: 1, Interval: 5 * time.Second})
	before := e.sim.Calls()
	st, err := w.cycleAt(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	after := e.sim.Calls()
	if detail, stats := after.Detail-before.Detail, after.Stats-before.Stats; detail != 2 || stats != 1 || st.StatsCalls != 1 {
		t.Fatalf("cycle with two changed rows: %d detail calls, %d stats calls (poller: %d), want 2 and 1", detail, stats, st.StatsCalls)
	}
	if got := countKind(w.take(), "status_changed"); got != 2 {
		t.Errorf("%d status_changed, want 2", got)
	}
	before = e.sim.Calls()
	if _, err = w.cycleAt(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	after = e.sim.Calls()
	if detail, stats := after.Detail-before.Detail, after.Stats-before.Stats; detail != 1 || stats != 2 {
		t.Errorf("quiet cycle: %d detail calls, %d stats calls, want 1 refresh and 2 stats calls", detail, stats)
	}
}

// TestStatsSpreadAcrossCycles: 8 active tasks, a budget of 7 calls a
// cycle, the list's one and 3 stats calls, 3 refreshes: the
// calls take turns, so every task is asked within ceil(8/3) = 3 cycles and
// none twice before all once. With poll.stats_every and no budget, each
// task is asked once, then not again until stats_every has passed.
func TestStatsSpreadAcrossCycles(t *testing.T) {
	e := newStatsEnv(t, activeFleet(8, ""))
	settle(t, e)
	// 1.6 calls/s over a 5 s interval: 7 calls a cycle.
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: 1.6, Interval: 5 * time.Second})
	for i, want := range []int{3, 6, 8} {
		at := time.Duration(i+1) * time.Second
		if _, err := w.cycleAt(at); err != nil {
			t.Fatal(err)
		}
		known, now := 0, 0
		for j := range 8 {
			if _, seen, ok := w.p.Progress(taskID(j)); ok {
				known++
				if seen.Equal(e.t0.Add(at)) {
					now++
				}
			}
		}
		if known != want || now != 3 {
			t.Fatalf("after cycle %d: %d tasks with progress (%d asked this cycle), want %d (3)", i+1, known, now, want)
		}
	}

	every := e.newWatcher(poller.Options{Discover: true, StatsEvery: time.Minute})
	for _, c := range []struct {
		at   time.Duration
		want int
	}{{10 * time.Second, 8}, {20 * time.Second, 0}, {69 * time.Second, 0}, {70 * time.Second, 8}} {
		st, err := every.cycleAt(c.at)
		if err != nil {
			t.Fatal(err)
		}
		if st.StatsCalls != c.want {
			t.Errorf("stats_every 1m, cycle at %s: %d stats calls, want %d", c.at, st.StatsCalls, c.want)
		}
	}
}

// TestStatsFailureKeepsProgress: a malformed stats answer is logged with
// its class and task, the task keeps its last progress, no watch_degraded
// is published, and the other task's progress moves on.
func TestStatsFailureKeepsProgress(t *testing.T) {
	e := newStatsEnv(t, activeFleet(2, `faults:
  - {at: 5s, for: 1s, kind: malformed, task: task-0000, call: stats}
`))
	w := e.newWatcher(poller.Options{Discover: true})
	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	w.take()
	st, err := w.cycleAt(5 * time.Second)
	if err != nil {
		t.Fatalf("a stats failure failed the cycle: %v", err)
	}
	if st.StatsCalls != 1 || st.StatsFailed != 1 {
		t.Errorf("stats %d answered, %d failed; want 1 and 1", st.StatsCalls, st.StatsFailed)
	}
	if evs := w.take(); len(evs) != 0 {
		t.Errorf("a stats failure published %v", summary(evs))
	}
	if got, at, ok := w.p.Progress(taskID(0)); !ok || *got.Percent != 0 || !at.Equal(e.t0) || *got.Lag != 7 {
		t.Errorf("the failing task's progress = %v lag %v at %v, want its last: 0%% lag 7 at +0s", got.Percent, got.Lag, at)
	}
	if got, _, _ := w.p.Progress(taskID(1)); got.Percent == nil || *got.Percent != 5 {
		t.Errorf("the other task's progress = %v, want 5%%", got.Percent)
	}
	warns := w.warnings(taskID(0))
	if len(warns) != 1 || !strings.Contains(warns[0], `"class":"bad_response"`) || !strings.Contains(warns[0], "task stats failed") {
		t.Errorf("warnings naming the task: %v, want one 'task stats failed' with class bad_response", warns)
	}
	if _, err := w.cycleAt(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := w.p.Progress(taskID(0)); *got.Percent != 10 {
		t.Errorf("after the fault the task's progress = %v, want 10%%", *got.Percent)
	}
}

// TestStatsThrottlingPauses: a throttled stats call stops the cycle's
// other stats calls and pauses the API as a detail call's throttling
// would, without making the API or a task watch_degraded.
func TestStatsThrottlingPauses(t *testing.T) {
	e := newStatsEnv(t, activeFleet(3, `faults:
  - {at: 5s, for: 1s, kind: throttle, task: "", call: stats}
`))
	w := e.newWatcher(poller.Options{Discover: true, Concurrency: 1})
	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	w.take()
	st, err := w.cycleAt(5 * time.Second)
	if err != nil {
		t.Fatalf("throttled stats calls failed the cycle: %v", err)
	}
	if st.StatsFailed != 1 || st.StatsCalls != 0 {
		t.Errorf("throttled: %d stats calls failed, %d answered; want 1 and 0 (the rest not made)", st.StatsFailed, st.StatsCalls)
	}
	if st, _ := w.cycleAt(5*time.Second + 500*time.Millisecond); !st.Skipped {
		t.Errorf("the cycle right after the throttling was not paused")
	}
	if st, _ := w.cycleAt(10 * time.Second); st.Skipped || st.StatsCalls != 3 {
		t.Errorf("the cycle after the pause: paused %v, %d stats calls; want 3", st.Skipped, st.StatsCalls)
	}
	if evs := w.take(); len(evs) != 0 {
		t.Errorf("throttled stats calls published %v", summary(evs))
	}
}
