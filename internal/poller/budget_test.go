package poller_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/poller"
)

// detailedFleet is n tasks in the incremental phase with what only a detail
// call carries (task_status, the instances' task_status, a bandwidth
// limit) and what only a row carries (the instances' own statuses), then
// extra YAML (more tasks, then a faults section).
func detailedFleet(n int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "project_id: %s\ntasks:\n", project)
	for i := range n {
		fmt.Fprintf(&b, `  - id: %s
    name: move-%d
    migration_type: online_migration
    bandwidth_limit_mb: "100"
    source: {name: old, addrs: '10.0.0.1:6379', status: RUNNING}
    target: {name: new, addrs: '10.0.0.2:6379', status: RUNNING}
    steps:
      - {at: 0s, status: INCRMIGEATING, task_status: SYNCING, source_task_status: SYNCING, target_task_status: SYNCING}
`, taskID(i), i)
	}
	b.WriteString(extra)
	return b.String()
}

// TestRowIsFirstSnapshot: with a budget far below the fleet, the first
// cycle still covers every task (a discovered event each, from its list
// row) while its detail calls stay within the budget; the detail calls
// that complete the row snapshots over the next cycles report nothing
// (task_status and the rest were unknown, not changed), and a status
// change of a task still known only from its row is a status_changed.
func TestRowIsFirstSnapshot(t *testing.T) {
	const n = 12
	// The last task (refreshed last: same class, id order) fails at 2s.
	last := taskID(n - 1)
	sc := detailedFleet(n-1, "  - id: "+last+`
    bandwidth_limit_mb: "100"
    source: {name: old, addrs: '10.0.0.1:6379', status: RUNNING}
    steps:
      - {at: 0s, status: INCRMIGEATING, task_status: SYNCING}
      - {at: 2s, status: FAILED}
`)
	e := newEnv(t, sc, nil)
	// 1 call/s over a 5 s interval: 4 calls a cycle, 1 of them the list.
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: 1, Interval: 5 * time.Second})

	before := e.sim.Calls()
	st, err := w.cycleAt(0)
	if err != nil {
		t.Fatal(err)
	}
	// The 3 detail calls discover their tasks; the rest are known from
	// their rows.
	if got := countKind(w.take(), "discovered"); got != n || st.Rows != n-3 {
		t.Fatalf("first cycle: %d discovered, %d row snapshots, want %d and %d", got, st.Rows, n, n-3)
	}
	if len(w.snaps.Tasks(project)) != n {
		t.Errorf("first cycle stored %d snapshots, want %d", len(w.snaps.Tasks(project)), n)
	}
	if calls := e.sim.Calls().Detail - before.Detail; calls != 3 || st.Budget != 4 {
		t.Errorf("first cycle: %d detail calls, budget %d; want 3 and 4", calls, st.Budget)
	}
	var got []string
	for i := 1; i <= 5; i++ {
		if _, err := w.cycleAt(time.Duration(i) * time.Second); err != nil {
			t.Fatal(err)
		}
		got = append(got, summary(w.take())...)
	}
	if want := []string{last + ":status_changed"}; !slices.Equal(got, want) {
		t.Errorf("completing the row snapshots published %v, want %v", got, want)
	}
	for _, ent := range w.snaps.Tasks(project) {
		if ent.RowOnly || ent.Task.TaskStatus != "SYNCING" || ent.Task.BandwidthLimitMB != "100" {
			t.Errorf("%s: row only %v, task_status %q, bandwidth %q after its detail call", ent.Task.ID, ent.RowOnly, ent.Task.TaskStatus, ent.Task.BandwidthLimitMB)
		}
	}
}

// TestAutoReadsSmallFleetInFull: with the budget above the fleet, every
// task gets a detail call every cycle, so a change only the detail call
// shows (task_status EXCHANGING) is reported by the next cycle.
func TestAutoReadsSmallFleetInFull(t *testing.T) {
	sc := detailedFleet(4, `  - id: exchanging
    steps: [{at: 0s, status: INCRMIGEATING, task_status: SYNCING}, {at: 10s, task_status: EXCHANGING}]
`)
	e := newEnv(t, sc, nil)
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: 20, Interval: 30 * time.Second, RefreshActive: time.Hour})
	for _, at := range []time.Duration{0, 5 * time.Second, 11 * time.Second} {
		before := e.sim.Calls().Detail
		st, err := w.cycleAt(at)
		if err != nil {
			t.Fatal(err)
		}
		if calls := e.sim.Calls().Detail - before; calls != 5 {
			t.Errorf("cycle at %s: %d detail calls, want 5 (the whole fleet)", at, calls)
		}
		if st.OldestRefresh != 0 {
			t.Errorf("cycle at %s: oldest refresh %s, want 0 (all read now)", at, st.OldestRefresh)
		}
	}
	evs := w.take()
	if got := countKind(evs, "task_status_changed"); got != 1 {
		t.Errorf("%d task_status_changed, want 1 (EXCHANGING): %v", got, summary(evs))
	}
}

// TestAutoBudgetHoldsLargeFleet: 10,000 tasks at 20 calls/s on a 30 s
// schedule: every cycle's calls (list pages included) stay within the
// budget, the first cycle covers the fleet from the rows, the incremental
// phase is refreshed before the rest, and the staleness is reported.
func TestAutoBudgetHoldsLargeFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 tasks")
	}
	const n = 10000
	var b strings.Builder
	fmt.Fprintf(&b, "project_id: %s\ntasks:\n", project)
	for i := range n {
		status := "RUNNING"
		if i%10 == 0 {
			status = "INCRMIGEATING"
		}
		fmt.Fprintf(&b, "  - id: %s\n    steps: [{at: 0s, status: %s}]\n", taskID(i), status)
	}
	e := newEnv(t, b.String(), nil)
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: 20, Interval: 30 * time.Second, RefreshActive: 30 * time.Second})
	var refreshed []int
	for i := range 4 {
		before := e.sim.Calls()
		e.at(time.Duration(i) * 30 * time.Second)
		ctx := e.ctx
		st, err := w.p.Cycle(ctx)
		if err != nil {
			t.Fatal(err)
		}
		after := e.sim.Calls()
		calls := (after.Detail - before.Detail) + (after.List - before.List)
		if st.Budget != 540 || calls > int64(st.Budget) {
			t.Errorf("cycle %d: %d calls, budget %d; want at most 540", i, calls, st.Budget)
		}
		// The budget's 530 detail calls (the list takes 10) discover their
		// tasks, the rest are known from their rows.
		if i == 0 && (st.Rows != n-530 || len(w.snaps.Tasks(project)) != n) {
			t.Errorf("first cycle: %d row snapshots, %d stored, want %d and %d", st.Rows, len(w.snaps.Tasks(project)), n-530, n)
		}
		refreshed = append(refreshed, int(after.Detail-before.Detail))
		if want := time.Duration(i) * 30 * time.Second; st.OldestRefresh != want {
			t.Errorf("cycle %d: oldest refresh %s, want %s", i, st.OldestRefresh, want)
		}
	}
	// The 1,000 incremental tasks first: two cycles of 530 refreshes.
	incr := 0
	for _, ent := range w.snaps.Tasks(project) {
		if !ent.RowOnly && ent.Task.Status == "INCRMIGEATING" {
			incr++
		}
	}
	if incr != n/10 {
		t.Errorf("%d incremental tasks read by their detail call after 4 cycles, want all %d", incr, n/10)
	}
	if !strings.Contains(w.logs.String(), `"level":"warn","listed":10000`) {
		t.Errorf("no warning about the oldest refresh (90s > 2x refresh_active 30s): calls per cycle %v", refreshed)
	}
}

// TestAutoBudgetUnderThrottling: in a storm of 429s the poller pauses as
// Retry-After says, and no second of simulated time sees more calls than
// the rate limit, before, during or after the storm.
func TestAutoBudgetUnderThrottling(t *testing.T) {
	const rate = 5
	e := newEnv(t, detailedFleet(50, "faults:\n  - {at: 3s, for: 5s, kind: throttle, task: \"\"}\n"), nil)
	// Two cycles a second: each may make rate*0.45 calls (2).
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: rate, Interval: 500 * time.Millisecond, Concurrency: 4})
	var perSecond []int64
	paused := 0
	for ms := 0; ms < 15000; ms += 500 {
		before := e.calls()
		st, _ := w.cycleAt(time.Duration(ms) * time.Millisecond)
		if st.Skipped {
			paused++
		}
		if ms%1000 == 0 {
			perSecond = append(perSecond, 0)
		}
		perSecond[len(perSecond)-1] += e.calls() - before
	}
	for s, n := range perSecond {
		if n > rate {
			t.Errorf("second %d: %d calls, want at most %d", s, n, rate)
		}
	}
	if paused == 0 {
		t.Error("no cycle paused during the storm")
	}
	if e.sim.Calls().Detail == 0 {
		t.Error("no detail call at all")
	}
}

// TestEventsPublishedPerTask: a task's events go out as soon as its own
// detail call is answered, not when the cycle's last call is: the detail
// call of "slow" is held until "fast"'s status_changed is published (at
// most 3 s); a cycle that published at its end would never release it.
func TestEventsPublishedPerTask(t *testing.T) {
	sc := fmt.Sprintf(`
project_id: %s
tasks:
  - id: fast
    steps: [{at: 0s, status: FULLMIGRATING}, {at: 10s, status: INCRMIGEATING}]
  - id: slow
    steps: [{at: 0s, status: FULLMIGRATING}, {at: 10s, status: INCRMIGEATING}]
`, project)
	var wp atomic.Pointer[watcher] // set once the first cycle is done
	var held, released atomic.Int32
	wrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if w := wp.Load(); strings.HasSuffix(r.URL.Path, "/migration-task/slow") && w != nil && held.Add(1) == 1 {
				deadline := time.Now().Add(3 * time.Second)
				for time.Now().Before(deadline) {
					if slices.Contains(summary(w.snapshotEvents()), "fast:status_changed") {
						released.Store(1)
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			h.ServeHTTP(rw, r)
		})
	}
	e := newEnv(t, sc, wrap)
	w := e.newWatcher(poller.Options{Discover: true, Concurrency: 2})
	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	wp.Store(w)
	if _, err := w.cycleAt(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if held.Load() == 0 {
		t.Fatal("the slow task was not called")
	}
	if released.Load() != 1 {
		t.Error("fast's status_changed was not published while slow's call was outstanding")
	}
	if got := sorted(summary(w.take())); !slices.Contains(got, "slow:status_changed") {
		t.Errorf("published %v, want both changes", got)
	}
}
