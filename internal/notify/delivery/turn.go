package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/lease"
	"github.com/dcs-watcher/watcher/internal/retry"
)

// One replica at a time delivers to a destination: the holder of the
// lane's delivery lease (internal/lease, on a key of the marks bucket),
// which it renews every leaseTTL/3. The others wait for it to lapse or be
// released. This is what keeps a task's events in order across replicas:
// two replicas each holding a batch of one consumer would each post theirs
// at its own pace, and a task's changes in the two batches could reach
// Slack out of order. It also keeps one pacer per destination (Slack's
// limit is per channel) and one announcement per dead-destination episode.
// See docs/slack-delivery.md, "Replicas"; leaseTTL and leaseSkew are in
// timing.go.

// leaseKey is where a lane keeps its delivery lease.
func (n *lane) leaseKey() string {
	if n.name == "" {
		return "lease.delivery"
	}
	return "lease.delivery." + n.name
}

// leases is the lane's view of the delivery leases in the marks bucket kv.
func (n *lane) leases(kv jetstream.KeyValue) *lease.Store {
	return lease.New(kv, lease.Options{TTL: n.leaseTTL, Identity: n.holder, Skew: leaseSkew})
}

// acquire waits until this lane holds its delivery lease, and returns it
// with when its first fetch may come. When it took the lease over from a
// holder that did not release it (lease.Held.Previous: crashed), the batch
// that holder kept unacked is redelivered only AckWait after its last
// keep-alive, which came before its expiry: the first fetch waits until
// that expiry plus leaseSkew plus AckWait, so that it gets those events
// before anything behind them. A released lease (the holder handed its
// batch back) is taken at once. It returns an error only when ctx ends.
func (n *lane) acquire(ctx context.Context, store *lease.Store) (*lease.Held, time.Time, error) {
	var lastErr string
	for {
		take := store.Acquire
		if n.o.Solo {
			take = store.Seize
		}
		// The write is not cut short when ctx ends: one the server applied
		// but whose answer was dropped would leave the lease held by no
		// one who knows it, and the next lane (a reload's) would take it
		// for a crashed holder's and wait for a redelivery that never
		// comes. Taken too late, it is released by hold (nothing ran).
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		l, err := take(tctx, n.leaseKey())
		cancel()
		if l != nil {
			var ready time.Time
			if prev, until, crashed := l.Previous(); crashed {
				ready = until.Add(leaseSkew + n.ackWait)
				if n.o.Solo {
					// The crashed run was this process before its restart:
					// one clock, and it renewed every leaseTTL/3 until it
					// died, so its last keep-alive came at most that long
					// after its last renewal (until - leaseTTL).
					ready = until.Add(-n.leaseTTL + n.leaseTTL/3 + n.ackWait)
				}
				n.o.Logger.Warn().Str("previous_holder", prev).Time("fetch_at", ready).
					Msg("slack: took delivery over from a replica that stopped without handing its batch back; waiting for its redelivery")
			}
			n.o.Logger.Info().Str("holder", n.holder).Msg("slack: this replica delivers to the destination")
			return l, ready, nil
		}
		if err != nil && err.Error() != lastErr && ctx.Err() == nil {
			n.o.Logger.Warn().Err(err).Msg("slack: cannot take the delivery lease; trying again")
			lastErr = err.Error()
		}
		if err := retry.SleepUntil(ctx, time.Now().Add(n.leaseTTL/3)); err != nil {
			return nil, time.Time{}, fmt.Errorf("slack notifier: wait for the delivery lease: %w", err)
		}
	}
}

// whileHeld takes the lane's delivery lease (acquire) and runs deliver
// under it (hold). It returns an error only when ctx ends before the lease
// is taken.
func (n *lane) whileHeld(ctx context.Context, kv jetstream.KeyValue, deliver func(ctx context.Context)) error {
	store := n.leases(kv)
	l, ready, err := n.acquire(ctx, store)
	if err != nil {
		return err
	}
	n.hold(ctx, store, l, ready, deliver)
	return nil
}

// hold runs deliver from ready on (the redelivery wait, see acquire) while
// the lease package renews the lease every leaseTTL/3 (lease.Store.Hold).
// deliver's ctx ends when ctx does or the lease is lost: a renewal finds
// another holder, or none succeeds before the lease's expiry: the holder
// stops by then, by its own clock, so that the next one (which waits for
// the recorded expiry plus leaseSkew) never overlaps with it. Unless lost,
// the lease is then released: the batch was handed back (handle naks what
// it did not finish), so the next holder may start at once.
func (n *lane) hold(ctx context.Context, store *lease.Store, l *lease.Held, ready time.Time, deliver func(ctx context.Context)) lease.End {
	end, _ := store.Hold(ctx, l, lease.Tenure{Ready: ready, Failed: func(err error) {
		why := "another replica took it"
		switch {
		case errors.Is(err, lease.ErrExpired):
			why = "not renewed in time"
		case !errors.Is(err, lease.ErrLost):
			return // tried again until the expiry
		}
		n.o.Logger.Warn().Err(err).Msg("slack: delivery lease lost (" + why + "); handing the batch back")
	}}, func(ctx context.Context) error { deliver(ctx); return nil })
	if end == lease.Lost || end == lease.Lapsed {
		return end
	}
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	if err := store.Release(ctx, l); err != nil {
		n.o.Logger.Warn().Err(err).Msg("slack: could not release the delivery lease; another replica takes over when it lapses")
	}
	return end
}
