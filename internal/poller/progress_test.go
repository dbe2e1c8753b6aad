package poller_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/poller"
)

// statsAPI answers the stats call (GET .../migration-task/{id}/stats) in
// front of the simulator, in the API's wire format (every number a
// string): percent grows by rate per second of the shared clock from t0,
// offset is lag; the tasks of broken answer a body of the wrong shape. It
// counts the calls per task.
type statsAPI struct {
	e    *env
	rate float64
	lag  int

	mu        sync.Mutex
	broken    map[string]bool
	throttled bool // every stats call answers 429 APIGW.0308
	calls     map[string]int
}

func newStatsAPI(rate float64, lag int) *statsAPI {
	return &statsAPI{rate: rate, lag: lag, broken: map[string]bool{}, calls: map[string]int{}}
}

func (s *statsAPI) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutSuffix(r.URL.Path, "/stats")
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		id := rest[strings.LastIndex(rest, "/")+1:]
		s.mu.Lock()
		s.calls[id]++
		broken, throttled := s.broken[id], s.throttled
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if throttled {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}`)
			return
		}
		if broken {
			fmt.Fprint(w, `{"full_migration_progress": {"percent": 1}}`)
			return
		}
		pct := min(100, s.rate*s.e.clk.Now().Sub(s.e.t0).Seconds())
		fmt.Fprintf(w, `{"full_migration_progress":"%.1f","offset":"%d","source_dbsize":"1000","target_dbsize":"640","target_input_kbps":"512.5","target_ops":"120","is_migrating":true}`, pct, s.lag)
	})
}

// count is the stats calls of each task so far, and resets them.
func (s *statsAPI) take() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.calls
	s.calls = map[string]int{}
	return out
}

func (s *statsAPI) setBroken(id string, b bool) {
	s.mu.Lock()
	s.broken[id] = b
	s.mu.Unlock()
}

func newStatsEnv(t *testing.T, scenario string, s *statsAPI) *env {
	e := newEnv(t, scenario, s.wrap)
	s.e = e
	e.stats = true
	return e
}

// TestProgressOnEvents: an active task gets a stats call per cycle; the
// next event of the task carries its last progress and observed rate; a
// cycle where only the progress moved publishes nothing; a pending task
// gets no stats call; once the task has finished its events carry no
// progress and the poller forgets it.
func TestProgressOnEvents(t *testing.T) {
	s := newStatsAPI(2, 0) // 2% a second
	e := newStatsEnv(t, `project_id: `+project+`
tasks:
  - id: moving
    name: orders
    steps:
      - {at: 0s, status: FULLMIGRATING}
      - {at: 10s, status: INCRMIGEATING}
      - {at: 30s, status: SUCCESS}
  - id: waiting
    steps: [{at: 0s, status: RUNNING}]
`, s)
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
	if got := s.take(); got["moving"] != 2 || got["waiting"] != 0 {
		t.Fatalf("stats calls %v, want 2 of the active task and none of the pending one", got)
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
		pr.PercentPerMinute == nil || *pr.PercentPerMinute != 120 || *pr.Lag != 0 || *pr.SourceDBSize != 1000 {
		t.Fatalf("status_changed progress = %+v, want 10%% observed at +5s, 120%%/min, lag 0, source 1000", pr)
	}
	if got := s.take(); got["moving"] != 1 {
		t.Fatalf("stats calls at 10s: %v, want 1 of the active task", got)
	}

	if _, err := w.cycleAt(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	evs = w.take()
	if len(evs) != 1 || evs[0].Data.Progress != nil {
		t.Fatalf("at 30s: %v with progress %+v, want the status change to SUCCESS without progress", summary(evs), evs[0].Data.Progress)
	}
	if _, _, ok := w.p.Progress("moving"); ok {
		t.Errorf("the poller still keeps the progress of a finished task")
	}
	if _, err := w.cycleAt(35 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := s.take(); got["moving"] != 0 {
		t.Errorf("stats calls of the finished task: %v, want none", got)
	}
}

// activeFleet is n tasks in MIGRATING from the start, then extra YAML.
func activeFleet(n int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "project_id: %s\ntasks:\n", project)
	for i := range n {
		fmt.Fprintf(&b, "  - id: %s\n    steps: [{at: 0s, status: MIGRATING}]\n", taskID(i))
	}
	b.WriteString(extra)
	return b.String()
}

// settle has a watcher with budget to spare read the whole fleet at 0s,
// so that the watchers started after know every task; the stats calls it
// made are forgotten.
func settle(t *testing.T, e *env, s *statsAPI) {
	t.Helper()
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: 1000, Interval: 5 * time.Second})
	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	s.take()
}

// TestStatsAfterChangedRows: with a budget of 4 calls a cycle, a cycle in
// which two rows show a status change makes the list call, the two detail
// calls that complete those snapshots, and one stats call with what is
// left; a cycle without changes spends the list and three stats calls.
func TestStatsAfterChangedRows(t *testing.T) {
	s := newStatsAPI(1, 0)
	e := newStatsEnv(t, activeFleet(4, `  - id: task-0004
    steps: [{at: 0s, status: MIGRATING}, {at: 10s, status: INCRMIGEATING}]
  - id: task-0005
    steps: [{at: 0s, status: MIGRATING}, {at: 10s, status: INCRMIGEATING}]
`), s)
	settle(t, e, s)
	// 1 call/s over a 5 s interval: 4 calls a cycle, 1 of them the list.
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: 1, Interval: 5 * time.Second})
	before := e.sim.Calls().Detail
	st, err := w.cycleAt(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	stats := s.take()
	if detail := e.sim.Calls().Detail - before; detail != 2 || st.StatsCalls != 1 || len(stats) != 1 {
		t.Fatalf("cycle with two changed rows: %d detail calls, %d stats calls (%v), want 2 and 1", detail, st.StatsCalls, stats)
	}
	if got := countKind(w.take(), "status_changed"); got != 2 {
		t.Errorf("%d status_changed, want 2", got)
	}
	before = e.sim.Calls().Detail
	st, err = w.cycleAt(15 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if detail := e.sim.Calls().Detail - before; detail != 0 || st.StatsCalls != 3 {
		t.Errorf("quiet cycle: %d detail calls, %d stats calls, want 0 and 3 (the budget less the list)", detail, st.StatsCalls)
	}
}

// TestStatsSpreadAcrossCycles: 8 active tasks, 3 stats calls a cycle: the
// calls take turns, so every task is asked within ceil(8/3) = 3 cycles and
// none twice before all once. With poll.stats_every and no budget, each
// task is asked once, then not again until stats_every has passed.
func TestStatsSpreadAcrossCycles(t *testing.T) {
	s := newStatsAPI(1, 0)
	e := newStatsEnv(t, activeFleet(8, ""), s)
	settle(t, e, s)
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: 1, Interval: 5 * time.Second})
	total := map[string]int{}
	for i := 1; i <= 3; i++ {
		if _, err := w.cycleAt(time.Duration(i) * time.Second); err != nil {
			t.Fatal(err)
		}
		for id, n := range s.take() {
			total[id] += n
		}
		for id, n := range total {
			if n > 1 && len(total) < 8 {
				t.Fatalf("after cycle %d: %s asked %d times while others were never asked: %v", i, id, n, total)
			}
		}
	}
	if len(total) != 8 {
		t.Fatalf("after 3 cycles, %d of 8 tasks asked: %v", len(total), total)
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

// TestStatsFailureKeepsProgress: a stats answer of the wrong shape is
// logged with its class and task, the task keeps its last progress, no
// watch_degraded is published, and the other task's progress moves on.
func TestStatsFailureKeepsProgress(t *testing.T) {
	s := newStatsAPI(1, 7)
	e := newStatsEnv(t, activeFleet(2, ""), s)
	w := e.newWatcher(poller.Options{Discover: true})
	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	w.take()
	s.setBroken(taskID(0), true)
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
}

// TestStatsThrottlingPauses: a throttled stats call stops the cycle's
// other stats calls and pauses the API as a detail call's throttling
// would (Retry-After), without making the API or a task watch_degraded.
func TestStatsThrottlingPauses(t *testing.T) {
	s := newStatsAPI(1, 0)
	e := newStatsEnv(t, activeFleet(3, ""), s)
	w := e.newWatcher(poller.Options{Discover: true, Concurrency: 1})
	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	w.take()
	s.mu.Lock()
	s.throttled = true
	s.mu.Unlock()
	st, err := w.cycleAt(5 * time.Second)
	if err != nil {
		t.Fatalf("throttled stats calls failed the cycle: %v", err)
	}
	if st.StatsFailed != 1 || st.StatsCalls != 0 {
		t.Errorf("throttled: %d stats calls failed, %d answered; want 1 and 0 (the rest not made)", st.StatsFailed, st.StatsCalls)
	}
	if st, _ := w.cycleAt(20 * time.Second); !st.Skipped {
		t.Errorf("the cycle within Retry-After was not paused")
	}
	if st, _ := w.cycleAt(36 * time.Second); st.Skipped {
		t.Errorf("the cycle after Retry-After was paused")
	}
	if evs := w.take(); len(evs) != 0 {
		t.Errorf("throttled stats calls published %v", summary(evs))
	}
}
