package poller_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/poller"
)

// TestAuthFailurePauses: a refused credential stops the cycle at once (more
// calls would lock the AK), is reported once as the API's blindness, holds
// every call back while paused, and its end is reported once.
func TestAuthFailurePauses(t *testing.T) {
	const n, conc = 20, 4
	for _, tc := range []struct {
		name string
		o    poller.Options
	}{
		{"configured ids", poller.Options{TaskIDs: ids(n), Concurrency: conc}},
		{"discovery", poller.Options{Discover: true, Detail: poller.DetailEveryCycle, Concurrency: conc}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, fleet(n, "  - {at: 0s, for: 45s, kind: auth, task: \"\"}\n"), nil)
			w := e.newWatcher(tc.o)

			st, err := w.cycleAt(0)
			if !errors.Is(err, dcs.ErrAuth) {
				t.Fatalf("cycle error = %v, want one wrapping dcs.ErrAuth", err)
			}
			if c := e.calls(); c < 1 || c > conc+1 {
				t.Errorf("API calls in the failing cycle = %d, want 1..%d", c, conc+1)
			}
			if st.Fetched != 0 || st.Skipped {
				t.Errorf("stats = %+v, want nothing fetched and not skipped", st)
			}
			evs := w.take()
			if got := summary(evs); !slices.Equal(got, []string{"_api:watch_degraded"}) {
				t.Fatalf("events = %v, want one watch_degraded for the API", got)
			}
			if e.count(filter("", "watch_degraded")) != 1 {
				t.Errorf("stream holds %d API watch_degraded events, want 1", e.count(filter("", "watch_degraded")))
			}

			// Paused: 10 s later not one call reaches the API.
			before := e.calls()
			st, err = w.cycleAt(10 * time.Second)
			if err != nil || !st.Skipped {
				t.Errorf("cycle at 10s: stats %+v, err %v; want skipped, no error", st, err)
			}
			if c := e.calls() - before; c != 0 {
				t.Errorf("cycle at 10s made %d API calls, want 0", c)
			}

			// After the 30 s pause the fault is still on: the cycle tries,
			// fails, reports nothing new and pauses longer (doubled to 60 s).
			before = e.calls()
			if _, err := w.cycleAt(31 * time.Second); !errors.Is(err, dcs.ErrAuth) {
				t.Fatalf("cycle at 31s: error = %v, want dcs.ErrAuth", err)
			}
			if e.calls() == before {
				t.Error("cycle at 31s, after the pause, made no API call")
			}
			if got := summary(w.take()); len(got) != 0 {
				t.Errorf("cycle at 31s published %v, want nothing: the episode is already reported", got)
			}
			before = e.calls()
			if st, _ := w.cycleAt(80 * time.Second); !st.Skipped || e.calls() != before {
				t.Errorf("cycle at 80s: skipped=%v, calls %d; want skipped with no call (pause doubled to 60s)", st.Skipped, e.calls()-before)
			}

			// The fault is over and so is the pause: recovered, once.
			st, err = w.cycleAt(92 * time.Second)
			if err != nil {
				t.Fatalf("cycle at 92s: %v", err)
			}
			if st.Fetched != n {
				t.Errorf("cycle at 92s fetched %d tasks, want %d", st.Fetched, n)
			}
			evs = w.take()
			if got := countKind(evs, "watch_recovered"); got != 1 {
				t.Errorf("cycle at 92s: %d watch_recovered events, want 1 (%v)", got, summary(evs))
			}
			for _, env := range evs {
				if env.Data.Kind == "watch_recovered" && env.Data.TaskID != "" {
					t.Errorf("watch_recovered for task %q, want the API", env.Data.TaskID)
				}
			}
			if _, err := w.cycleAt(93 * time.Second); err != nil {
				t.Fatal(err)
			}
			if got := summary(w.take()); len(got) != 0 {
				t.Errorf("cycle at 93s published %v, want nothing", got)
			}
			if got := e.count(filter("", "watch_recovered")); got != 1 {
				t.Errorf("stream holds %d API watch_recovered events, want 1", got)
			}
		})
	}
}

// TestThrottlingPauses: a 429 stops the cycle, the pause honours Retry-After
// (1 s), and the cycle after it proceeds without false removals.
func TestThrottlingPauses(t *testing.T) {
	const n = 10
	e := newEnv(t, fleet(n, "  - {at: 1s, for: 1s, kind: throttle, task: \"\"}\n"), nil)
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailEveryCycle, Concurrency: 4})

	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	if got := countKind(w.take(), "discovered"); got != n {
		t.Fatalf("first cycle: %d discovered, want %d", got, n)
	}

	before := e.sim.Calls()
	st, err := w.cycleAt(time.Second)
	if !errors.Is(err, dcs.ErrThrottled) {
		t.Fatalf("throttled cycle: error = %v, want dcs.ErrThrottled", err)
	}
	after := e.sim.Calls()
	if after.List-before.List != 1 || after.Detail != before.Detail {
		t.Errorf("throttled cycle made %d list and %d detail calls, want 1 and 0",
			after.List-before.List, after.Detail-before.Detail)
	}
	if st.Fetched != 0 {
		t.Errorf("throttled cycle fetched %d", st.Fetched)
	}
	if got := summary(w.take()); !slices.Equal(got, []string{notify.NoTask + ":watch_degraded"}) {
		t.Errorf("throttled cycle published %v, want one API watch_degraded", got)
	}

	before = e.sim.Calls()
	if st, err := w.cycleAt(1500 * time.Millisecond); err != nil || !st.Skipped {
		t.Errorf("cycle within Retry-After: stats %+v, err %v; want skipped", st, err)
	}
	if e.sim.Calls() != before {
		t.Errorf("cycle within Retry-After called the API: %+v -> %+v", before, e.sim.Calls())
	}

	st, err = w.cycleAt(2 * time.Second)
	if err != nil {
		t.Fatalf("cycle after Retry-After: %v", err)
	}
	if st.Skipped || st.Fetched != n {
		t.Errorf("cycle after Retry-After: stats %+v, want %d fetched", st, n)
	}
	if got := summary(w.take()); !slices.Equal(got, []string{notify.NoTask + ":watch_recovered"}) {
		t.Errorf("cycle after Retry-After published %v, want only the API's watch_recovered", got)
	}
}
