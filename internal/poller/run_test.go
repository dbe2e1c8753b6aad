package poller_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestRunPollsOnSchedule: Run polls at once, then on every tick of the cron
// spec, and returns when its context ends.
func TestRunPollsOnSchedule(t *testing.T) {
	e := newEnv(t, fleet(2, ""), nil)
	w := e.newWatcher(poller.Options{Discover: true})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.p.Run(ctx, "@every 1s") }()
	testutil.EventuallyWithin(t, 10*time.Second, "the immediate cycle and one tick", func() bool { return e.sim.Calls().List >= 2 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if got := countKind(w.take(), "discovered"); got != 2 {
		t.Errorf("%d discovered events over several cycles, want 2", got)
	}
	// The cycle line's duration carries its unit.
	if !regexp.MustCompile(`"took":"[0-9.]+(µs|ms|s)"[,}].*"message":"cycle"`).MatchString(w.logs.String()) {
		t.Errorf("no cycle line with a took that has a unit:\n%s", w.logs.String())
	}
}

func TestRunRejectsBadSpec(t *testing.T) {
	e := newEnv(t, fleet(1, ""), nil)
	w := e.newWatcher(poller.Options{Discover: true})
	err := w.p.Run(t.Context(), "@every banana")
	if err == nil || !strings.Contains(err.Error(), "@every banana") {
		t.Fatalf("Run with a bad spec: %v", err)
	}
}

// TestRunSkipsOverlappingTicks: a tick that comes while a cycle still runs
// is skipped, so cycles never overlap.
func TestRunSkipsOverlappingTicks(t *testing.T) {
	release := make(chan struct{})
	var inFlight, maxInFlight atomic.Int32
	block := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/migration-tasks") {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for {
					m := maxInFlight.Load()
					if n <= m || maxInFlight.CompareAndSwap(m, n) {
						break
					}
				}
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
			h.ServeHTTP(w, r)
		})
	}
	e := newEnv(t, fleet(1, ""), block)
	w := e.newWatcher(poller.Options{Discover: true})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.p.Run(ctx, "@every 1s") }()
	testutil.EventuallyWithin(t, 10*time.Second, "a skipped tick", func() bool { return strings.Contains(w.logs.String(), "tick skipped") })
	close(release)
	testutil.EventuallyWithin(t, 10*time.Second, "the first cycle to finish", func() bool { return countKind(w.snapshotEvents(), "discovered") == 1 })
	cancel()
	<-done
	if m := maxInFlight.Load(); m != 1 {
		t.Errorf("%d list calls in flight at once, want 1: cycles overlapped", m)
	}
}
