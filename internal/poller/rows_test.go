package poller_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/sim"
)

// editList rewrites each successful list answer of the simulator while on
// is set: edit gets its rows and returns the rows to send and how much
// to add to count. Everything else passes as it is.
func editList(on *atomic.Bool, edit func([]map[string]any) ([]map[string]any, int)) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			var m struct {
				Count int              `json:"count"`
				Rows  []map[string]any `json:"migration_tasks"`
			}
			if on.Load() && rec.Code == http.StatusOK && strings.HasSuffix(r.URL.Path, "/migration-tasks") && json.Unmarshal(body, &m) == nil {
				var more int
				m.Rows, more = edit(m.Rows)
				m.Count += more
				body, _ = json.Marshal(m)
			}
			for k, v := range rec.Header() {
				if k != "Content-Length" {
					w.Header()[k] = v
				}
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
		})
	}
}

// modes are the detail modes a test runs in.
var modes = []struct {
	name string
	o    poller.Options
}{
	{"on_change", poller.Options{Discover: true}},
	{"every_cycle", poller.Options{Discover: true, Detail: poller.DetailEveryCycle}},
	{"auto", poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: 20, Interval: time.Second}},
}

// TestDuplicateRowWithOtherContent: a list answer that holds one task
// twice, the first row stale (FAILED, with a reason) and the count that of
// the distinct ids, is unusable: one watch_degraded for the episode and
// its watch_recovered, never a change told from the stale row.
func TestDuplicateRowWithOtherContent(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			var dup atomic.Bool
			e := newEnv(t, fleet(5, ""), editList(&dup, func(rows []map[string]any) ([]map[string]any, int) {
				for _, r := range rows {
					if r["task_id"] == taskID(1) {
						stale := map[string]any{}
						for k, v := range r {
							stale[k] = v
						}
						stale["status"], stale["error_message"] = "FAILED", "stale reason"
						return append([]map[string]any{stale}, rows...), 0
					}
				}
				return rows, 0
			}))
			w := e.newWatcher(m.o)
			if _, err := w.cycleAt(0); err != nil {
				t.Fatal(err)
			}
			dup.Store(true)
			for _, at := range []time.Duration{5 * time.Second, 6 * time.Second} {
				if _, err := w.cycleAt(at); err == nil || !strings.Contains(err.Error(), "listed twice with different content") {
					t.Errorf("cycle at %s: error %v, want the list's duplicate named", at, err)
				}
			}
			dup.Store(false)
			for _, at := range []time.Duration{10 * time.Second, 11 * time.Second} {
				if _, err := w.cycleAt(at); err != nil {
					t.Fatalf("cycle at %s: %v", at, err)
				}
			}
			evs := e.streamEvents()
			want := []string{"_api:watch_degraded", "_api:watch_recovered"}
			if got := summary(evs[5:]); !slices.Equal(got, want) {
				t.Errorf("after the first cycle the stream holds %v, want %v", got, want)
			}
			if d := evs[5].Data; countKind(evs, "watch_degraded") == 1 && !strings.HasPrefix(d.Reason, "bad_response") {
				t.Errorf("watch_degraded reason %q, want class bad_response", d.Reason)
			}
		})
	}
}

// TestForeignRowMakesNoEvent: a list row of an id the API does not know
// (its detail call answers DCS.4133) makes no event at all, in every mode,
// and one warning naming the id.
func TestForeignRowMakesNoEvent(t *testing.T) {
	const ghost = "ghost-0001"
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			on := &atomic.Bool{}
			on.Store(true)
			e := newEnv(t, fleet(3, ""), editList(on, func(rows []map[string]any) ([]map[string]any, int) {
				return append(rows, map[string]any{"task_id": ghost, "task_name": "not ours", "status": "RUNNING"}), 1
			}))
			w := e.newWatcher(m.o)
			for i := range 3 {
				if _, err := w.cycleAt(time.Duration(i) * time.Second); err != nil {
					t.Fatalf("cycle %d: %v", i, err)
				}
			}
			evs := e.streamEvents()
			for _, env := range evs {
				if env.Data.TaskID == ghost {
					t.Errorf("stream holds %s about the foreign row", env.Data.Kind)
				}
			}
			if n := countKind(evs, "discovered"); n != 3 {
				t.Errorf("%d discovered, want 3 (the real tasks)", n)
			}
			if got := w.warnings(ghost); len(got) != 1 || !strings.Contains(got[0], "listed task unknown to the API") {
				t.Errorf("warnings about %s: %q, want one", ghost, got)
			}
		})
	}
}

// TestStatusChangeToldFromRow: a status change the list row shows is told
// from the row in the cycle that lists it, with the row's failure reason,
// even though the task's detail answer is unusable then; the detail call
// that completes the snapshot later tells what else moved (task_status)
// and not the status change again.
func TestStatusChangeToldFromRow(t *testing.T) {
	const reason = "The target instance is out of memory: OOM command not allowed."
	sc := fleet(3, "  - {at: 10s, for: 5s, task: moving, kind: malformed}\n") // the detail call alone
	sc = strings.Replace(sc, "faults:\n", `  - id: moving
    steps:
      - {at: 0s, status: FULLMIGRATING, task_status: RUNNING}
      - {at: 10s, status: FAILED, error_message: "`+reason+`", task_status: STOPPED}
faults:
`, 1)
	for _, m := range []string{"on_change", "auto"} {
		t.Run(m, func(t *testing.T) {
			o := poller.Options{Discover: true}
			if m == "auto" {
				o = poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: 20, Interval: time.Second}
			}
			e := newEnv(t, sc, nil)
			w := e.newWatcher(o)
			if _, err := w.cycleAt(0); err != nil {
				t.Fatal(err)
			}
			w.take()
			st, _ := w.cycleAt(11 * time.Second) // the detail answer is unusable: an error of the cycle
			evs := w.take()
			if got, want := summary(evs), []string{"moving:status_changed", "moving:watch_degraded"}; !slices.Equal(got, want) || st.Moved != 1 {
				t.Fatalf("cycle at 11s published %v (%d told from rows), want %v (1)", got, st.Moved, want)
			}
			d := evs[0].Data
			if d.CurrentStatus.Normalized != "FAILED" || d.Snapshot.ErrorMessage != reason {
				t.Errorf("status_changed: status %s, reason %q; want FAILED with %q", d.CurrentStatus.Normalized, d.Snapshot.ErrorMessage, reason)
			}
			if !hasChange(d.Changes, "error_message", "", reason) {
				t.Errorf("status_changed changes %v lack the reason", d.Changes)
			}
			if _, err := w.cycleAt(16 * time.Second); err != nil {
				t.Fatal(err)
			}
			evs = w.take()
			if got, want := summary(evs), []string{"moving:watch_recovered", "moving:task_status_changed"}; !slices.Equal(got, want) {
				t.Errorf("cycle at 16s (detail back) published %v, want %v", got, want)
			}
			if _, err := w.cycleAt(17 * time.Second); err != nil {
				t.Fatal(err)
			}
			if got := summary(w.take()); len(got) != 0 {
				t.Errorf("cycle at 17s published %v, want nothing", got)
			}
			ent, _ := w.snaps.Get(project, "moving")
			if ent.RowAhead || ent.Task.TaskStatus != "STOPPED" || ent.Task.ErrorMessage != reason {
				t.Errorf("snapshot: row ahead %v, task_status %q, reason %q; want completed, STOPPED, the reason", ent.RowAhead, ent.Task.TaskStatus, ent.Task.ErrorMessage)
			}
		})
	}
}

func hasChange(cs []diff.FieldChange, field, old, nw string) bool {
	return slices.Contains(cs, diff.FieldChange{Field: field, Old: old, New: nw})
}

// TestRecoveryShowsNoOldReason: the API keeps a failure's error_message on
// the task restarted since (the simulator's row keeps it); the recovery's
// status_changed and the snapshot show no reason, with the list there and
// while it is unusable (the detail call tells the recovery then), and the
// list's return raises no change.
func TestRecoveryShowsNoOldReason(t *testing.T) {
	const reason = "Incremental sync broke off: the replication backlog was overwritten."
	for _, tc := range []struct{ name, faults string }{
		{"list there", ""},
		{"list unusable", "  - {at: 15s, for: 15s, kind: bare_list}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := fleet(2, "") + `  - id: flaky
    steps:
      - {at: 0s, status: FULLMIGRATING}
      - {at: 10s, status: FAILED, error_message: "` + reason + `"}
      - {at: 20s, status: RUNNING}
`
			if tc.faults != "" {
				sc += "faults:\n" + tc.faults
			}
			e := newEnv(t, sc, nil)
			w := e.newWatcher(poller.Options{Discover: true})
			for _, at := range []time.Duration{0, 11 * time.Second, 21 * time.Second, 31 * time.Second, 32 * time.Second} {
				_, _ = w.cycleAt(at) // an unusable list is an error of the cycle
			}
			evs := e.streamEvents()
			if got := transitions(evs, "flaky"); !slices.Equal(got, []string{"FULLMIGRATING->FAILED", "FAILED->RUNNING"}) {
				t.Fatalf("transitions %v", got)
			}
			for _, env := range evs {
				d := env.Data
				switch {
				case d.TaskID != "flaky" || d.Kind != diff.StatusChanged:
				case d.CurrentStatus.Normalized == "FAILED" && d.Snapshot.ErrorMessage != reason:
					t.Errorf("FAILED event: reason %q, want %q", d.Snapshot.ErrorMessage, reason)
				case d.CurrentStatus.Normalized == "RUNNING" && (d.Snapshot.ErrorMessage != "" || !hasChange(d.Changes, "error_message", reason, "")):
					t.Errorf("recovery event: reason %q, changes %v; want no reason, the old one cleared", d.Snapshot.ErrorMessage, d.Changes)
				}
			}
			if n := countKind(evs, "changed"); n != 0 {
				t.Errorf("%d changed events, want 0", n)
			}
			if ent, _ := w.snaps.Get(project, "flaky"); ent.Task.ErrorMessage != "" {
				t.Errorf("snapshot of the recovered task keeps reason %q", ent.Task.ErrorMessage)
			}
		})
	}
}

// TestLateReason: a FAILED told without a reason (the API gave none yet)
// and the reason that comes later: a changed event whose changes hold
// error_message ("" -> the reason), outcome failed, the snapshot with the
// reason. The shape a consumer (Slack) renders as the late reason.
func TestLateReason(t *testing.T) {
	const reason = "Failed to connect to the source Redis: connection timed out."
	sc := fleet(1, "") + `  - id: late
    steps:
      - {at: 0s, status: FULLMIGRATING}
      - {at: 10s, status: FAILED}
      - {at: 20s, error_message: "` + reason + `"}
`
	e := newEnv(t, sc, nil)
	w := e.newWatcher(poller.Options{Discover: true})
	for _, at := range []time.Duration{0, 11 * time.Second, 21 * time.Second, 22 * time.Second} {
		if _, err := w.cycleAt(at); err != nil {
			t.Fatal(err)
		}
	}
	var late []notify.Data
	for _, env := range e.streamEvents() {
		if env.Data.TaskID == "late" && env.Data.Kind != diff.Discovered {
			late = append(late, env.Data)
		}
	}
	if len(late) != 2 || late[0].Kind != diff.StatusChanged || late[1].Kind != diff.Changed {
		t.Fatalf("events of the task: %+v, want status_changed then changed", late)
	}
	if late[0].Snapshot.ErrorMessage != "" {
		t.Errorf("FAILED told with reason %q before the API gave one", late[0].Snapshot.ErrorMessage)
	}
	d := late[1]
	if !hasChange(d.Changes, "error_message", "", reason) || d.Snapshot.ErrorMessage != reason || d.Outcome != dcs.OutcomeFailed || d.CurrentStatus.Normalized != "FAILED" {
		t.Errorf("late reason: changes %v, reason %q, outcome %s, status %s", d.Changes, d.Snapshot.ErrorMessage, d.Outcome, d.CurrentStatus.Normalized)
	}
}

// TestRowAheadSurvivesRestart: status changes told from rows whose detail
// calls the budget could not make in that cycle are still owed after a
// restart (the snapshot's RowAhead mark), and come before any refresh:
// the detail calls then tell what else moved (task_status), not the
// status again.
func TestRowAheadSurvivesRestart(t *testing.T) {
	var b strings.Builder
	fmt.Fprintf(&b, "project_id: %s\ntasks:\n", project)
	for i := range 6 {
		fmt.Fprintf(&b, `  - id: %s
    steps:
      - {at: 0s, status: FULLMIGRATING, task_status: RUNNING}
      - {at: 10s, status: FAILED, error_message: "lost the source", task_status: STOPPED}
`, taskID(i))
	}
	e := newEnv(t, b.String(), nil)
	// 1 call/s on 5 s: 4 calls a cycle, the list and 3 detail calls.
	o := poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: 1, Interval: 5 * time.Second}
	w := e.newWatcher(o)
	for _, at := range []time.Duration{0, 5 * time.Second} { // discovered, then completed
		if _, err := w.cycleAt(at); err != nil {
			t.Fatal(err)
		}
	}
	st, err := w.cycleAt(11 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st.Moved != 6 || st.Fetched != 3 {
		t.Fatalf("cycle at 11s: %d told from rows, %d detail calls; want 6 and 3", st.Moved, st.Fetched)
	}
	w2 := e.newWatcher(o) // a restart on the same store
	if _, err := w2.cycleAt(12 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := sorted(summary(w2.take())); !slices.Equal(got, []string{
		taskID(3) + ":task_status_changed", taskID(4) + ":task_status_changed", taskID(5) + ":task_status_changed",
	}) {
		t.Errorf("after the restart the first cycle published %v, want the owed tasks' task_status_changed", got)
	}
	for _, ent := range w2.snaps.Tasks(project) {
		if ent.RowAhead || ent.Task.TaskStatus != "STOPPED" {
			t.Errorf("%s: row ahead %v, task_status %q; want completed by its detail call", ent.Task.ID, ent.RowAhead, ent.Task.TaskStatus)
		}
	}
	if n := countKind(e.streamEvents(), "status_changed"); n != 6 {
		t.Errorf("stream holds %d status_changed, want 6 (one per task)", n)
	}
}

// TestBurstOf500FailuresWithinTwoCycles is the acceptance run: 600 tasks,
// 500 of which fail at the same instant (the simulator's fleet burst, each
// with its reason in its list row), on the default budget (20 calls/s,
// paced for real by the client's limiter, on a 1 s schedule: 18 calls a
// cycle). Every FAILED is on the stream by the end of the cycle after the
// one whose list first showed the burst, each with its reason, once, and
// neither cycle makes more calls than its budget.
//
// In-process rather than the binary: the assertion counts cycles, which
// the poller's Cycle delimits exactly under the test's clock; the binary
// would add only the configuration that sets the same three options.
func TestBurstOf500FailuresWithinTwoCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("600 tasks at the real rate limit")
	}
	const burstAt = 5 * time.Second
	sc := sim.Fleet(sim.FleetOptions{Tasks: 600, Seed: 15, ProjectID: project, BurstTasks: 500, BurstAt: burstAt, BurstStatus: "FAILED"})
	reasons := map[string]string{} // the burst's tasks and their reasons
	for _, tk := range sc.Tasks {
		for _, st := range tk.Steps {
			if st.At == burstAt && st.Status != nil && *st.Status == "FAILED" {
				reasons[tk.ID] = *st.ErrorMessage
			}
		}
	}
	if len(reasons) != 500 {
		t.Fatalf("the fleet plans %d failures at %s, want 500", len(reasons), burstAt)
	}
	e := newEnvWith(t, sc, nil)
	e.limiter = rate.NewLimiter(20, 20) // dcs.rate_limit's default, as the app builds it
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: 20, Interval: time.Second})

	failed := func() []notify.Data {
		var out []notify.Data
		for _, env := range w.snapshotEvents() {
			if env.Data.Kind == diff.StatusChanged && env.Data.CurrentStatus.Normalized == "FAILED" {
				out = append(out, env.Data)
			}
		}
		return out
	}
	at := time.Duration(0)
	for ; at < burstAt; at += time.Second {
		if _, err := w.cycleAt(at); err != nil {
			t.Fatalf("cycle at %s: %v", at, err)
		}
	}
	// The first cycle whose list shows the burst (the simulator shows a
	// step from its instant on), then the next one.
	for cycle := 1; cycle <= 2; cycle++ {
		start := time.Now()
		all := make(chan time.Duration, 1) // measured, not asserted: when the 500th FAILED was out
		stop := make(chan struct{})
		go func() {
			for len(failed()) < 500 {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
			all <- time.Since(start)
		}()
		before := e.calls()
		st, err := w.cycleAt(at)
		close(stop)
		if err != nil {
			t.Fatalf("cycle at %s: %v", at, err)
		}
		// On the budget: a cycle costs what the rate limit allows in its
		// interval, not a detail call per changed row.
		if calls := e.calls() - before; calls > int64(st.Budget) {
			t.Errorf("cycle %d from the burst made %d calls, over its budget of %d", cycle, calls, st.Budget)
		}
		at += time.Second
		took := time.Since(start)
		select {
		case d := <-all:
			t.Logf("cycle %d from the burst: all 500 FAILED on the stream %s after its start; %d told from rows, %d detail calls, the cycle took %s", cycle, d, st.Moved, st.Fetched, took)
		default:
			t.Logf("cycle %d from the burst: %d FAILED on the stream; %d told from rows, %d detail calls, the cycle took %s", cycle, len(failed()), st.Moved, st.Fetched, took)
		}
	}
	got := failed()
	seen := map[string]bool{}
	var missing, noReason []string
	for _, d := range got {
		switch {
		case reasons[d.TaskID] == "":
			t.Errorf("%s: FAILED, not one of the burst", d.TaskID)
		case seen[d.TaskID]:
			t.Errorf("%s: FAILED told twice", d.TaskID)
		case d.Snapshot.ErrorMessage != reasons[d.TaskID]:
			noReason = append(noReason, d.TaskID)
		}
		seen[d.TaskID] = true
	}
	for id := range reasons {
		if !seen[id] {
			missing = append(missing, id)
		}
	}
	slices.Sort(missing)
	slices.Sort(noReason)
	if len(missing) > 0 || len(noReason) > 0 {
		t.Errorf("by the end of the second cycle: %d of 500 FAILED missing (%s), %d without their reason (%s)", len(missing), fmtIDs(missing), len(noReason), fmtIDs(noReason))
	}
	// The detail calls that complete the snapshots tell no FAILED again.
	for range 3 {
		if _, err := w.cycleAt(at); err != nil {
			t.Fatal(err)
		}
		at += time.Second
	}
	if n := len(failed()); n != 500 {
		t.Errorf("%d FAILED events after three more cycles, want 500", n)
	}
	if n := countKind(e.streamEvents(), "status_changed"); n != 500 {
		t.Errorf("stream holds %d status_changed, want 500", n)
	}
}

// fmtIDs is a short list of ids for a failure message.
func fmtIDs(ids []string) string {
	if len(ids) > 5 {
		return fmt.Sprintf("%v and %d more", ids[:5], len(ids)-5)
	}
	return fmt.Sprint(ids)
}
