package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/lease"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// A lane's delivery lease, as another replica left it: held while its
// expiry has not passed by leaseSkew on this replica's clock (the other's
// clock may be that far behind); past that, taken over and recognised as
// a crash (the record was not released), naming the holder whose batch
// the redelivery wait is for.
func TestDeliveryLeaseSkewAndCrash(t *testing.T) {
	t.Parallel()
	_, ctx, l, kv := laneOnServer(t)
	leave := func(expires time.Time) {
		t.Helper()
		b, _ := json.Marshal(lease.Record{Holder: "other", Expires: expires})
		if _, err := kv.Put(ctx, l.leaseKey(), b); err != nil {
			t.Fatal(err)
		}
	}
	leave(time.Now())
	if h, err := l.leases(kv).Acquire(ctx, l.leaseKey()); err != nil || h != nil {
		t.Fatalf("took a lease expired by less than leaseSkew: %v %v", h, err)
	}
	expired := time.Now().Add(-leaseSkew - time.Second).Truncate(time.Millisecond)
	leave(expired)
	h, err := l.leases(kv).Acquire(ctx, l.leaseKey())
	if err != nil || h == nil {
		t.Fatalf("did not take a lapsed lease: %v %v", h, err)
	}
	if holder, until, crashed := h.Previous(); holder != "other" || !until.Equal(expired) || !crashed {
		t.Errorf("Previous() = %q, %s, %v; want other, %s, crashed", holder, until, crashed, expired)
	}
}

// A holder that cannot renew (cut off from NATS), or whose lease lapsed
// anyway (a renewal too slow; here a TTL of 1 ns), stops by the lease's
// expiry by its own clock (its held ctx ends), and does not release the
// lease even when NATS still answers: it may not have handed its batch
// back, so the next holder must wait for the redelivery.
func TestDeliveryLeaseHolderStopsByItsDeadline(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		ttl    time.Duration
		cutOff bool
	}{
		"cut off": {ttl: 600 * time.Millisecond, cutOff: true},
		"lapsed":  {ttl: time.Nanosecond},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := testutil.RunJetStream(t, -1, t.TempDir())
			conn, js := testutil.Connect(t, srv.ClientURL())
			_, other := testutil.Connect(t, srv.ClientURL())
			ctx := testutil.Context(t, waitFor)
			l := mustNew(t, js, nil, Options{}).lanes[0]
			l.leaseTTL = c.ttl
			kv, err := l.marksBucket(ctx)
			if err != nil {
				t.Fatal(err)
			}
			store := l.leases(kv)
			hl, err := store.Acquire(ctx, l.leaseKey())
			if err != nil || hl == nil {
				t.Fatalf("acquire: %v %v", hl, err)
			}
			hctx, stop := context.WithCancel(context.Background())
			defer stop()
			ended := make(chan lease.End, 1)
			go func() {
				ended <- l.hold(hctx, store, hl, time.Time{}, func(ctx context.Context) {
					if c.cutOff {
						conn.Close()
					}
					<-ctx.Done()
				})
			}()
			var end lease.End
			testutil.EventuallyWithin(t, waitFor, "the held ctx to end", func() bool {
				select {
				case end = <-ended:
					return true
				default:
					return false
				}
			})
			if end != lease.Lapsed {
				t.Errorf("tenure ended %s, want lapsed (not renewed in time: lost)", end)
			}
			okv, err := other.KeyValue(ctx, l.o.MarksBucket)
			if err != nil {
				t.Fatal(err)
			}
			e, err := okv.Get(ctx, l.leaseKey())
			if err != nil {
				t.Fatalf("lease record after the holder stopped: %v (released, want left for the taker)", err)
			}
			var rec lease.Record
			if err := json.Unmarshal(e.Value(), &rec); err != nil || rec.Holder != l.holder || e.Revision() != hl.Revision() {
				t.Errorf("lease record %s rev %d, want %s's at rev %d", e.Value(), e.Revision(), l.holder, hl.Revision())
			}
		})
	}
}

// answerLost is a marks bucket whose Create reaches the server and is
// applied, while the caller's ctx ends before the answer comes back (a
// reload stopping the lane at that moment): the client then reports the
// ctx's error for a write that happened.
type answerLost struct {
	jetstream.KeyValue
	stop context.CancelFunc
}

func (a answerLost) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	rev, err := a.KeyValue.Create(context.WithoutCancel(ctx), key, value, opts...)
	a.stop()
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return rev, err
}

// A lane stopped while its lease write is in flight does not leave the
// lease behind: the next lane (a reload's, another holder) takes it at
// once, not as a crashed holder's, whose batch it would wait for (a
// reload logged "watcher running" and its lane did not deliver).
func TestDeliveryLeaseTakenAsTheLaneStops(t *testing.T) {
	t.Parallel()
	js, ctx, l, kv := laneOnServer(t)
	lctx, stop := context.WithCancel(ctx)
	if err := l.whileHeld(lctx, answerLost{KeyValue: kv, stop: stop}, func(context.Context) {
		t.Error("the lane delivered after its ctx ended")
	}); err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, l.leaseKey()); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("lease record left by the stopped lane: %v, %v", e, err)
	}
	next := mustNew(t, js, nil, Options{}).lanes[0]
	h, err := next.leases(kv).Acquire(ctx, next.leaseKey())
	if err != nil || h == nil {
		t.Fatalf("the next lane's acquire: %v %v", h, err)
	}
	if holder, _, crashed := h.Previous(); crashed {
		t.Errorf("the next lane took the lease over from %q, a crashed holder's, and would wait for its redelivery", holder)
	}
}

// laneOnServer is a lane of a notifier on a fresh server, with its marks
// bucket (where its delivery lease lives).
func laneOnServer(t *testing.T) (jetstream.JetStream, context.Context, *lane, jetstream.KeyValue) {
	t.Helper()
	srv := testutil.RunJetStream(t, -1, t.TempDir())
	_, js := testutil.Connect(t, srv.ClientURL())
	ctx := testutil.Context(t, waitFor)
	l := mustNew(t, js, nil, Options{}).lanes[0]
	kv, err := l.marksBucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return js, ctx, l, kv
}
