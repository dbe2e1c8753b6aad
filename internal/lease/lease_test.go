package lease

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/testutil"
)

// t0 is where the tests' clocks start.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// server starts a JetStream server of the test's own and connects to it.
func server(t *testing.T) (jetstream.JetStream, context.Context) {
	t.Helper()
	srv := testutil.RunJetStream(t, -1, t.TempDir())
	_, js := testutil.Connect(t, srv.ClientURL())
	return js, testutil.Context(t, 30*time.Second)
}

func open(t *testing.T, js jetstream.JetStream, id string, clock *testutil.Clock) *Store {
	t.Helper()
	s, err := Open(testutil.Context(t, 10*time.Second), js, Options{Bucket: "leases", TTL: 15 * time.Second, Identity: id, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOneHolderTakeOverFencing: one holder at a time; the other takes an
// expired lease over; the old holder's renewal and fencing check then fail
// even though its own clock would say it still leads.
func TestOneHolderTakeOverFencing(t *testing.T) {
	js, ctx := server(t)
	ca, cb := testutil.NewClock(t0), testutil.NewClock(t0)
	a, b := open(t, js, "a", ca), open(t, js, "b", cb)
	key := LeaseKey("cn-north-4", "p1")

	ha, err := a.Acquire(ctx, key)
	if err != nil || ha == nil {
		t.Fatalf("a acquire: %v %v", ha, err)
	}
	if hb, err := b.Acquire(ctx, key); err != nil || hb != nil {
		t.Fatalf("b acquired a held lease: %v %v", hb, err)
	}
	if err := a.Check(ctx, ha); err != nil {
		t.Fatalf("holder's check: %v", err)
	}
	ca.Set(t0.Add(10 * time.Second))
	if err := a.Renew(ctx, ha); err != nil {
		t.Fatalf("renew: %v", err)
	}
	// b's clock passes the first expiry, not the renewed one.
	cb.Set(t0.Add(20 * time.Second))
	if hb, _ := b.Acquire(ctx, key); hb != nil {
		t.Fatal("b took a renewed lease")
	}
	// a stops renewing (paused); b takes it over after the expiry.
	cb.Set(t0.Add(26 * time.Second))
	hb, err := b.Acquire(ctx, key)
	if err != nil || hb == nil {
		t.Fatalf("b take-over: %v %v", hb, err)
	}
	// a wakes with its clock before its expiry: the revision fences it.
	ca.Set(t0.Add(11 * time.Second))
	if err := a.Check(ctx, ha); !errors.Is(err, ErrLost) {
		t.Fatalf("stale holder's check = %v, want ErrLost", err)
	}
	if err := a.Renew(ctx, ha); !errors.Is(err, ErrLost) {
		t.Fatalf("stale holder's renew = %v, want ErrLost", err)
	}
	// Its own clock past the expiry: the revision still says lost.
	ca.Set(t0.Add(30 * time.Second))
	if err := a.Check(ctx, ha); !errors.Is(err, ErrLost) {
		t.Fatalf("expired check = %v", err)
	}
	// A stale release leaves the new holder's lease alone.
	if err := a.Release(ctx, ha); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(ctx, hb); err != nil {
		t.Fatalf("new holder after stale release: %v", err)
	}
	if err := b.Release(ctx, hb); err != nil {
		t.Fatal(err)
	}
	ca.Set(t0.Add(27 * time.Second))
	if h, err := a.Acquire(ctx, key); err != nil || h == nil {
		t.Fatalf("acquire after release: %v %v", h, err)
	}
}

func TestLive(t *testing.T) {
	js, ctx := server(t)
	clock := testutil.NewClock(t0)
	a, b, c := open(t, js, "a", clock), open(t, js, "b", clock), open(t, js, "c", clock)
	for _, s := range []*Store{a, b, c} {
		if err := s.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := a.Live(ctx); n != 3 {
		t.Fatalf("live = %d, want 3", n)
	}
	if err := c.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := a.Live(ctx); n != 2 {
		t.Fatalf("live after leave = %d, want 2", n)
	}
	clock.Set(t0.Add(time.Minute)) // b's heartbeat expired, a counts itself
	if n, _ := a.Live(ctx); n != 1 {
		t.Fatalf("live after expiry = %d, want 1", n)
	}
}

// TestSkew: with Skew, a taker whose clock has passed the holder's expiry,
// but not by Skew, leaves the lease alone (the holder's clock may be that
// far behind, so it may still be working); past expiry + Skew it takes it.
func TestSkew(t *testing.T) {
	js, ctx := server(t)
	ca, cb := testutil.NewClock(t0), testutil.NewClock(t0)
	a := open(t, js, "a", ca)
	b, err := Open(ctx, js, Options{Bucket: "leases", TTL: 15 * time.Second, Identity: "b", Skew: 2 * time.Second, Now: cb.Now})
	if err != nil {
		t.Fatal(err)
	}
	key := LeaseKey("cn-north-4", "p1")
	if h, err := a.Acquire(ctx, key); err != nil || h == nil {
		t.Fatalf("a acquire: %v %v", h, err)
	}
	cb.Set(t0.Add(16 * time.Second)) // past the expiry (15 s), within the skew
	if h, err := b.Acquire(ctx, key); err != nil || h != nil {
		t.Fatalf("b took the lease within the skew: %v %v", h, err)
	}
	cb.Set(t0.Add(17*time.Second + time.Millisecond))
	if h, err := b.Acquire(ctx, key); err != nil || h == nil {
		t.Fatalf("b past expiry + skew: %v %v", h, err)
	}
}

// TestPrevious: the taker learns whether the lease it took had been
// released (a missing key: the holder stopped cleanly), left to expire by
// another holder (crashed, with that holder's name and expiry), or was its
// own.
func TestPrevious(t *testing.T) {
	js, ctx := server(t)
	ca, cb := testutil.NewClock(t0), testutil.NewClock(t0)
	a, b := open(t, js, "a", ca), open(t, js, "b", cb)
	key := LeaseKey("cn-north-4", "p1")
	previous := func(who string, h *Held, err error, holder string, expires time.Time, crashed bool) *Held {
		t.Helper()
		if err != nil || h == nil {
			t.Fatalf("%s acquire: %v %v", who, h, err)
		}
		gh, ge, gc := h.Previous()
		if gh != holder || !ge.Equal(expires) || gc != crashed {
			t.Fatalf("%s: Previous() = %q, %s, %v; want %q, %s, %v", who, gh, ge, gc, holder, expires, crashed)
		}
		return h
	}

	h, err := a.Acquire(ctx, key)
	ha := previous("a, first", h, err, "", time.Time{}, false)
	// a releases: b takes a missing key, nothing crashed.
	if err := a.Release(ctx, ha); err != nil {
		t.Fatal(err)
	}
	h, err = b.Acquire(ctx, key)
	hb := previous("b after a's release", h, err, "", time.Time{}, false)
	// b crashes (never renews nor releases): a takes over after expiry.
	ca.Set(t0.Add(16 * time.Second))
	h, err = a.Acquire(ctx, key)
	ha = previous("a after b's crash", h, err, "b", hb.Expires(), true)
	// a's own lapsed tenure, taken again by a: not a crash.
	ca.Set(t0.Add(40 * time.Second))
	h, err = a.Acquire(ctx, key)
	previous("a again", h, err, "a", ha.Expires(), false)
}

// TestNewOnExistingBucket: leases kept in a bucket made for something else
// (the Slack marks bucket) leave its configuration and its other keys
// alone, and work as in a bucket of their own.
func TestNewOnExistingBucket(t *testing.T) {
	js, ctx := server(t)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "marks", TTL: time.Hour, History: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "ev-1", []byte("sent")); err != nil {
		t.Fatal(err)
	}
	ca, cb := testutil.NewClock(t0), testutil.NewClock(t0)
	a := New(kv, Options{TTL: 15 * time.Second, Identity: "a", Now: ca.Now})
	b := New(kv, Options{TTL: 15 * time.Second, Identity: "b", Now: cb.Now})
	ha, err := a.Acquire(ctx, "lease.delivery")
	if err != nil || ha == nil {
		t.Fatalf("a acquire: %v %v", ha, err)
	}
	if hb, err := b.Acquire(ctx, "lease.delivery"); err != nil || hb != nil {
		t.Fatalf("b acquired a held lease: %v %v", hb, err)
	}
	cb.Set(t0.Add(16 * time.Second))
	hb, err := b.Acquire(ctx, "lease.delivery")
	if err != nil || hb == nil {
		t.Fatalf("b acquire: %v %v", hb, err)
	}
	if err := a.Renew(ctx, ha); !errors.Is(err, ErrLost) {
		t.Fatalf("a's renewal after b took over = %v, want ErrLost", err)
	}
	if err := b.Release(ctx, hb); err != nil {
		t.Fatal(err)
	}
	// Now defaults to the real clock.
	if h, err := New(kv, Options{TTL: time.Second, Identity: "c"}).Acquire(ctx, "lease.delivery"); err != nil || h == nil {
		t.Fatalf("c acquire after b's release: %v %v", h, err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TTL() != time.Hour || st.History() != 3 {
		t.Errorf("bucket TTL %s, history %d: changed by the leases", st.TTL(), st.History())
	}
	if e, err := kv.Get(ctx, "ev-1"); err != nil || string(e.Value()) != "sent" {
		t.Errorf("other key: %v %v", e, err)
	}
}

// TestSeize: a process that knows it is the only holder (a restart on its
// own embedded server) takes a lease its crashed run left unexpired at
// once, and learns what it took over; the crashed run's renewal then
// loses. Acquire by the same newcomer would have waited for the expiry.
func TestSeize(t *testing.T) {
	js, ctx := server(t)
	clk := testutil.NewClock(t0)
	crashed, restarted := open(t, js, "run-1", clk), open(t, js, "run-2", clk)
	key := "lease.delivery"
	old, err := crashed.Acquire(ctx, key)
	if err != nil || old == nil {
		t.Fatalf("first run: %v %v", old, err)
	}
	clk.Set(t0.Add(time.Second))
	if h, err := restarted.Acquire(ctx, key); err != nil || h != nil {
		t.Fatalf("Acquire took an unexpired lease: %v %v", h, err)
	}
	h, err := restarted.Seize(ctx, key)
	if err != nil || h == nil {
		t.Fatalf("Seize: %v %v", h, err)
	}
	if who, until, wasCrash := h.Previous(); who != "run-1" || !until.Equal(old.Expires()) || !wasCrash {
		t.Errorf("Previous() = %q, %s, %v; want run-1, %s, true", who, until, wasCrash, old.Expires())
	}
	if err := crashed.Renew(ctx, old); !errors.Is(err, ErrLost) {
		t.Errorf("the crashed run's renewal = %v, want ErrLost", err)
	}
	if err := restarted.Check(ctx, h); err != nil {
		t.Errorf("the seizer's check: %v", err)
	}
}

// TestCheckDuringRenewals: a single holder, no fault. Fencing checks run
// while the holder renews, as a poller's writes do while its tenure
// renews: a check that reads the key around a renewal (before the renewal
// records its new revision, or just before its write lands) must not take
// the holder's own write for another holder's.
func TestCheckDuringRenewals(t *testing.T) {
	js, ctx := server(t)
	s, err := Open(ctx, js, Options{Bucket: "leases", TTL: time.Minute, Identity: "solo"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Acquire(ctx, LeaseKey("cn-north-4", "p1"))
	if err != nil || h == nil {
		t.Fatalf("acquire: %v %v", h, err)
	}
	const renewals = 400
	done := make(chan struct{})
	var lost atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := s.Check(ctx, h); err != nil {
					lost.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	for i := 0; i < renewals && lost.Load() == nil; i++ {
		if err := s.Renew(ctx, h); err != nil {
			t.Fatalf("renewal %d: %v", i, err)
		}
	}
	close(done)
	wg.Wait()
	if err, _ := lost.Load().(error); err != nil {
		t.Fatalf("a check during renewals failed: %v", err)
	}
}
