package poller_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dcs-watcher/watcher/internal/poller"
)

// inFlight counts the detail requests being answered at once.
type inFlight struct {
	next     http.Handler
	cur, max atomic.Int64
}

func (f *inFlight) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/migration-task/") {
		n := f.cur.Add(1)
		defer f.cur.Add(-1)
		for m := f.max.Load(); n > m && !f.max.CompareAndSwap(m, n); m = f.max.Load() {
		}
	}
	f.next.ServeHTTP(w, r)
}

// TestConcurrencyBound: detail calls run in parallel, never more than
// Concurrency at once.
func TestConcurrencyBound(t *testing.T) {
	const n, conc = 30, 4
	var fl *inFlight
	e := newEnv(t, fleet(n, "  - {at: 0s, for: 1h, kind: slow, delay: 100ms, task: \"\"}\n"),
		func(h http.Handler) http.Handler { fl = &inFlight{next: h}; return fl })
	w := e.newWatcher(poller.Options{Discover: true, Concurrency: conc})

	st, err := w.cycleAt(0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Fetched != n {
		t.Fatalf("fetched %d tasks, want %d", st.Fetched, n)
	}
	if got := e.sim.Calls().Detail; got != n {
		t.Errorf("detail calls = %d, want %d", got, n)
	}
	if m := fl.max.Load(); m > conc || m < 2 {
		t.Errorf("max detail calls in flight = %d, want 2..%d", m, conc)
	}
}
