package poller_test

import (
	"slices"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/poller"
)

// listDriven is 20 idle tasks (fleet) and three that change at 10 s: one in
// its list row (status), one only in what the detail call alone shows
// (task_status), and a finished one likewise.
var listDriven = fleet(20, "") + `  - id: moving
    steps: [{at: 0s, status: RUNNING}, {at: 10s, status: FULLMIGRATING}]
  - id: exchanging
    steps: [{at: 0s, status: INCRMIGEATING}, {at: 10s, task_status: EXCHANGING}]
  - id: finished
    steps: [{at: 0s, status: SUCCESS}, {at: 10s, task_status: EXCHANGE_SUCCESS}]
`

// TestListDrivenCalls: list-driven, a cycle costs the list page plus one
// detail call per task whose row changed; what only the detail call shows
// is seen when the task's refresh comes round, once per period, and a
// finished task with no terminal refresh is not called again.
func TestListDrivenCalls(t *testing.T) {
	e := newEnv(t, listDriven, nil)
	w := e.newWatcher(poller.Options{Discover: true, RefreshActive: time.Hour})
	const tasks, active = 23, 22

	steps := []struct {
		at                time.Duration
		detail, refreshes int
		events            []string
	}{
		{0, tasks, 0, nil}, // first sight: every task is new
		{5 * time.Second, 0, 0, []string{}},
		{11 * time.Second, 1, 0, []string{"moving:status_changed"}},
		{12 * time.Second, 0, 0, []string{}},
		// An hour on, every active task's refresh slot came round once.
		{time.Hour + 11*time.Second, active, active, []string{"exchanging:task_status_changed"}},
		{time.Hour + 12*time.Second, 0, 0, []string{}},
	}
	for _, s := range steps {
		before := e.sim.Calls()
		st, err := w.cycleAt(s.at)
		if err != nil {
			t.Fatalf("cycle at %s: %v", s.at, err)
		}
		after := e.sim.Calls()
		if got := after.List - before.List; got != 1 {
			t.Errorf("cycle at %s: %d list calls, want 1", s.at, got)
		}
		if got := after.Detail - before.Detail; got != int64(s.detail) {
			t.Errorf("cycle at %s: %d detail calls, want %d", s.at, got, s.detail)
		}
		if st.Tasks != tasks || st.Refreshes != s.refreshes {
			t.Errorf("cycle at %s: stats %+v, want %d tasks, %d refreshes", s.at, st, tasks, s.refreshes)
		}
		got := summary(w.take())
		if s.events != nil && !slices.Equal(got, s.events) {
			t.Errorf("cycle at %s published %v, want %v", s.at, got, s.events)
		}
		if s.events != nil && len(s.events) == 0 && st.Writes != 0 {
			t.Errorf("cycle at %s wrote %d snapshots, want none", s.at, st.Writes)
		}
	}
}

// TestListDrivenTerminalRefresh: with a terminal refresh period, a finished
// task is called again once it comes round.
func TestListDrivenTerminalRefresh(t *testing.T) {
	e := newEnv(t, listDriven, nil)
	w := e.newWatcher(poller.Options{Discover: true, RefreshActive: time.Hour, RefreshTerminal: 24 * time.Hour})
	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	w.take()
	st, err := w.cycleAt(24*time.Hour + time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got := summary(w.take())
	want := []string{"exchanging:task_status_changed", "finished:task_status_changed", "moving:status_changed"}
	if !slices.Equal(sorted(got), want) {
		t.Errorf("a day later published %v, want %v", got, want)
	}
	if st.Refreshes != 22 {
		t.Errorf("a day later: %d refreshes, want 22 (moving's row changed: not a refresh)", st.Refreshes)
	}
}
