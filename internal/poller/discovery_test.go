package poller_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/poller"
)

// TestRemovedFromList: a task that leaves the list is removed once.
func TestRemovedFromList(t *testing.T) {
	sc := fmt.Sprintf(`
project_id: %s
tasks:
  - id: stays
    steps: [{at: 0s, status: INCRMIGEATING}]
  - id: leaves
    steps: [{at: 0s, status: SUCCESS}]
    removed_at: 10s
`, project)
	e := newEnv(t, sc, nil)
	w := e.newWatcher(poller.Options{Discover: true})

	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	if got := summary(w.take()); !slices.Equal(sorted(got), []string{"leaves:discovered", "stays:discovered"}) {
		t.Fatalf("first cycle published %v", got)
	}
	for i, d := range []time.Duration{10 * time.Second, 11 * time.Second, 12 * time.Second} {
		if _, err := w.cycleAt(d); err != nil {
			t.Fatal(err)
		}
		want := []string{}
		if i == 0 {
			want = []string{"leaves:removed"}
		}
		if got := summary(w.take()); !slices.Equal(got, want) {
			t.Errorf("cycle at %s published %v, want %v", d, got, want)
		}
	}
	if got := e.count(filter("leaves", "removed")); got != 1 {
		t.Errorf("stream holds %d removed events for the task, want 1", got)
	}
}

// TestConfiguredTaskMissing: a configured id that the API does not know
// (DCS.4133) makes no event and one warning, not one per cycle.
func TestConfiguredTaskMissing(t *testing.T) {
	const ghost = "no-such-task"
	e := newEnv(t, fleet(1, ""), nil)
	w := e.newWatcher(poller.Options{TaskIDs: []string{taskID(0), ghost}})

	for i := range 3 {
		if _, err := w.cycleAt(time.Duration(i) * time.Second); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
	}
	if got := summary(w.take()); !slices.Equal(got, []string{taskID(0) + ":discovered"}) {
		t.Errorf("published %v, want only the real task's discovery", got)
	}
	if got := w.warnings(ghost); len(got) != 1 {
		t.Errorf("%d warnings about %s over three cycles, want 1:\n%s", len(got), ghost, strings.Join(got, "\n"))
	}
	// One call per task and cycle: nothing retried within a cycle.
	if got := e.sim.Calls().Detail; got != 6 {
		t.Errorf("detail calls over three cycles = %d, want 6", got)
	}
}

// TestListFails: when only the list call fails, nothing is taken for
// removed and the blindness is reported once, as the API's. Polling every
// task every cycle, the known tasks are still watched through their detail
// calls; list-driven, an outage of the list (500) is taken for the API's,
// and the change is seen when the list is back.
//
// The simulator's faults cannot hit the list alone (task "" hits every
// call), so a wrapper answers the list with 500 DCS.5000 while failList is set.
func TestListFails(t *testing.T) {
	t.Run("every cycle", func(t *testing.T) {
		testListFails(t, poller.DetailEveryCycle, 2, []string{"_api:watch_degraded", "moving:status_changed"}, []string{"_api:watch_recovered"})
	})
	t.Run("list-driven", func(t *testing.T) {
		testListFails(t, poller.DetailOnChange, 0, []string{"_api:watch_degraded"}, []string{"_api:watch_recovered", "moving:status_changed"})
	})
}

func testListFails(t *testing.T, detail poller.Detail, fetched int, during, after []string) {
	var failList atomic.Bool
	wrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if failList.Load() && strings.HasSuffix(r.URL.Path, "/migration-tasks") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"error_code":"DCS.5000","error_msg":"Internal error."}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	e := newEnv(t, twoTasks, wrap)
	w := e.newWatcher(poller.Options{Discover: true, Detail: detail})

	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	w.take()

	failList.Store(true)
	st, err := w.cycleAt(10 * time.Second)
	if !errors.Is(err, dcs.ErrRetryable) {
		t.Errorf("cycle with the list failing: error = %v, want dcs.ErrRetryable", err)
	}
	if st.Fetched != fetched {
		t.Errorf("cycle with the list failing fetched %d tasks, want %d", st.Fetched, fetched)
	}
	if got := summary(w.take()); !slices.Equal(sorted(got), during) {
		t.Errorf("cycle with the list failing published %v, want %v", got, during)
	}
	if _, err := w.cycleAt(11 * time.Second); !errors.Is(err, dcs.ErrRetryable) {
		t.Errorf("second cycle with the list failing: error = %v", err)
	}
	if got := summary(w.take()); len(got) != 0 {
		t.Errorf("second cycle with the list failing published %v, want nothing", got)
	}

	failList.Store(false)
	if _, err := w.cycleAt(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := summary(w.take()); !slices.Equal(got, after) {
		t.Errorf("cycle with the list back published %v, want %v", got, after)
	}
	if got := e.count(prefix + ".>"); got != 5 {
		t.Errorf("stream holds %d events, want 5 (2 discovered, degraded, status_changed, recovered)", got)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
