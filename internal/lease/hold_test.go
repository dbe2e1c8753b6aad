package lease

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/testutil"
)

// holding is a Hold running in the background, and what it was told.
type holding struct {
	mu       sync.Mutex
	failed   []error
	renewals []bool // lapsed, by renewal
	before   int    // renewals before lead started
	started  time.Time
	leadCtx  context.Context
	ended    chan struct{}
	end      End
	err      error
}

// hold starts s.Hold(ctx, h, t, lead) in the background, lead waiting for
// its ctx to end (or returning at once with leadErr when finish is set).
// keep, when set, is Tenure.Renewed's answer.
func hold(ctx context.Context, s *Store, h *Held, t Tenure, keep func(n int) bool, finish error) *holding {
	g := &holding{ended: make(chan struct{})}
	t.Failed = func(err error) { g.mu.Lock(); g.failed = append(g.failed, err); g.mu.Unlock() }
	t.Renewed = func(lapsed bool) bool {
		g.mu.Lock()
		g.renewals = append(g.renewals, lapsed)
		if g.leadCtx == nil {
			g.before++
		}
		n := len(g.renewals)
		g.mu.Unlock()
		return keep == nil || keep(n)
	}
	go func() {
		defer close(g.ended)
		g.end, g.err = s.Hold(ctx, h, t, func(ctx context.Context) error {
			g.mu.Lock()
			g.started, g.leadCtx = time.Now(), ctx
			g.mu.Unlock()
			if finish != nil {
				return finish
			}
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	return g
}

func (g *holding) told(is error) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, err := range g.failed {
		if errors.Is(err, is) {
			return true
		}
	}
	return false
}

func (g *holding) renewed(lapsed bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, l := range g.renewals {
		if l == lapsed {
			return true
		}
	}
	return false
}

func (g *holding) lead() (time.Time, context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.started, g.leadCtx
}

// wait waits for Hold to return and checks why it did.
func (g *holding) wait(t *testing.T, want End) {
	t.Helper()
	select {
	case <-g.ended:
	case <-time.After(20 * time.Second):
		t.Fatalf("Hold did not return; want %s", want)
	}
	if g.end != want {
		t.Fatalf("Hold ended %s, want %s", g.end, want)
	}
	if _, ctx := g.lead(); ctx != nil && ctx.Err() == nil {
		t.Error("Hold returned with lead's ctx still alive")
	}
}

func holdStore(t *testing.T, js jetstream.JetStream, id string, ttl time.Duration) (*Store, *Held) {
	t.Helper()
	s, err := Open(testutil.Context(t, 10*time.Second), js, Options{Bucket: "leases", TTL: ttl, Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Acquire(testutil.Context(t, 10*time.Second), LeaseKey("r", "p"))
	if err != nil || h == nil {
		t.Fatalf("acquire: %v %v", h, err)
	}
	return s, h
}

// TestHoldRenewsUntilStopped: Hold renews the lease while lead runs, and
// returns lead's error when ctx ends, leaving the lease to its caller.
func TestHoldRenewsUntilStopped(t *testing.T) {
	js, ctx := server(t)
	s, h := holdStore(t, js, "a", 900*time.Millisecond)
	first := h.Revision()
	hctx, stop := context.WithCancel(ctx)
	g := hold(hctx, s, h, Tenure{}, nil, nil)
	testutil.Eventually(t, "two renewals", func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.renewals) >= 2 })
	stop()
	g.wait(t, Stopped)
	if !errors.Is(g.err, context.Canceled) {
		t.Errorf("Hold's error = %v, want lead's (context canceled)", g.err)
	}
	if h.Revision() <= first || g.renewed(true) {
		t.Errorf("revision %d after renewals from %d (lapsed renewals: %v)", h.Revision(), first, g.renewed(true))
	}
	if err := s.Check(ctx, h); err != nil {
		t.Errorf("the lease after Hold: %v, want still held (Hold does not release)", err)
	}
}

// TestHoldEnds: lead's ctx ends, and Hold says why, when another holder
// writes the lease (Lost), when Renewed yields (Yielded), and when lead
// returns by itself (Finished, with lead's error).
func TestHoldEnds(t *testing.T) {
	js, ctx := server(t)
	s, h := holdStore(t, js, "a", 900*time.Millisecond)
	g := hold(ctx, s, h, Tenure{}, nil, nil)
	kv, err := js.KeyValue(ctx, "leases")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(Record{Holder: "b", Expires: time.Now().Add(time.Hour)})
	if _, err := kv.Put(ctx, h.Key, b); err != nil {
		t.Fatal(err)
	}
	g.wait(t, Lost)
	if !g.told(ErrLost) {
		t.Errorf("Failed told %v, want ErrLost", g.failed)
	}

	if err := kv.Delete(ctx, h.Key); err != nil {
		t.Fatal(err)
	}
	s, h = holdStore(t, js, "c", 900*time.Millisecond)
	g = hold(ctx, s, h, Tenure{}, func(n int) bool { return n < 2 }, nil)
	g.wait(t, Yielded)
	if len(g.renewals) != 2 {
		t.Errorf("%d renewals, want 2 (yielded at the second)", len(g.renewals))
	}

	done := errors.New("lead done")
	g = hold(ctx, s, h, Tenure{}, nil, done)
	g.wait(t, Finished)
	if !errors.Is(g.err, done) {
		t.Errorf("Hold's error = %v, want lead's", g.err)
	}
}

// TestHoldUnreachableStore: with the store gone (nats-server down) the
// lease cannot be renewed. A plain tenure ends at the lease's expiry
// (Lapsed); a RideThrough tenure goes on past it, and the renewal that
// reaches the restarted store, on the revision this holder wrote, keeps it.
func TestHoldUnreachableStore(t *testing.T) {
	for name, ride := range map[string]bool{"lapses": false, "rides through": true} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			srv := testutil.RunJetStream(t, -1, dir)
			_, js := testutil.Connect(t, srv.ClientURL())
			ctx := testutil.Context(t, 30*time.Second)
			s, h := holdStore(t, js, "a", 900*time.Millisecond)
			g := hold(ctx, s, h, Tenure{RideThrough: ride}, nil, nil)
			port := srv.Addr().(*net.TCPAddr).Port
			srv.Shutdown()
			if !ride {
				g.wait(t, Lapsed)
				if !g.told(ErrExpired) {
					t.Errorf("Failed told %v, want ErrExpired", g.failed)
				}
				return
			}
			testutil.EventuallyWithin(t, 10*time.Second, "the expiry told", func() bool { return g.told(ErrExpired) })
			if _, lctx := g.lead(); lctx == nil || lctx.Err() != nil {
				t.Fatal("lead's ctx ended at the expiry under RideThrough")
			}
			testutil.RunJetStream(t, port, dir)
			testutil.EventuallyWithin(t, 20*time.Second, "a renewal after the expiry", func() bool { return g.renewed(true) })
			if _, lctx := g.lead(); lctx.Err() != nil {
				t.Fatal("lead's ctx ended by the ride-through")
			}
			// The holder renews every TTL/3: on a loaded machine one check
			// may fall after a late renewal's expiry, so the lease is judged
			// as its holder keeps it, by a check that passes within a
			// deadline (it never does if the renewals do not hold it).
			var last error
			t.Cleanup(func() {
				if last != nil {
					t.Logf("the lease's last check: %v", last)
				}
			})
			testutil.EventuallyWithin(t, 10*time.Second, "the lease held after the ride-through", func() bool {
				last = s.Check(ctx, h)
				return last == nil
			})
		})
	}
}

// TestHoldReady: lead starts at Tenure.Ready, the lease renewed meanwhile;
// a ctx that ends before then ends the tenure with lead never run.
func TestHoldReady(t *testing.T) {
	js, ctx := server(t)
	s, h := holdStore(t, js, "a", 600*time.Millisecond)
	ready := time.Now().Add(1500 * time.Millisecond)
	g := hold(ctx, s, h, Tenure{Ready: ready}, nil, nil)
	testutil.Eventually(t, "lead started", func() bool { started, _ := g.lead(); return !started.IsZero() })
	if started, _ := g.lead(); started.Before(ready) {
		t.Errorf("lead started at %s, before Ready %s", started, ready)
	}
	g.mu.Lock()
	n := g.before
	g.mu.Unlock()
	if n == 0 {
		t.Error("the lease was not renewed while waiting for Ready")
	}

	hctx, stop := context.WithCancel(ctx)
	g = hold(hctx, s, h, Tenure{Ready: time.Now().Add(time.Hour)}, nil, nil)
	stop()
	g.wait(t, Stopped)
	if started, _ := g.lead(); !started.IsZero() || g.err != nil {
		t.Errorf("lead ran (at %s, error %v) though ctx ended before Ready", started, g.err)
	}
}
