package slack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/retry"
)

// One replica at a time delivers to a destination: the holder of the
// lane's delivery lease, a record in the marks bucket that it renews
// every leaseTTL/3. The others wait for it to lapse. This is what keeps
// a task's events in order across replicas: two replicas each holding a
// batch of one consumer would each post theirs at its own pace, and a
// task's changes in the two batches could reach Slack out of order. It
// also keeps one pacer per destination (Slack's limit is per channel) and
// one announcement per dead-destination episode. See
// docs/slack-delivery.md, "Replicas".
const (
	// leaseTTL is how long a holder that stops renewing (a crash, a lost
	// connection) keeps the lease: the others take over after it, plus
	// leaseSkew, plus ackWait (see takeOver).
	leaseTTL = 15 * time.Second
	// leaseSkew is how far the replicas' clocks may disagree: the lease
	// record carries the holder's wall-clock expiry, judged by the
	// others' clocks.
	leaseSkew = 2 * time.Second
)

// leaseRecord is the value of a lane's lease key.
type leaseRecord struct {
	Holder string    `json:"holder"`
	Until  time.Time `json:"until"`
	// Released: the holder stopped cleanly, having handed its batch back
	// (Nak), so the next one starts at once.
	Released bool `json:"released,omitempty"`
}

// leaseKey is where a lane keeps its delivery lease.
func (n *lane) leaseKey() string {
	if n.name == "" {
		return "lease.delivery"
	}
	return "lease.delivery." + n.name
}

// newHolderID names this Notifier in lease records: the host, for whoever
// reads the bucket, and random bytes, so that a restarted process is
// another holder.
func newHolderID() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	if host == "" {
		host = "watcher"
	}
	return host + "-" + hex.EncodeToString(b[:])
}

// held is a lease this lane holds: ctx ends when it is lost (not renewed
// in time, or taken by another) or when Run's ctx ends.
type held struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	// rev and lost belong to the renewing goroutine until done is closed.
	rev  uint64
	lost bool
}

// acquire waits until this lane holds its delivery lease, and returns it
// renewed in the background. When it took the lease over from a holder
// that did not release it, the batch that holder kept unacked is
// redelivered only AckWait after its last keep-alive: acquire waits for
// that, so that the first fetch gets those events before anything behind
// them. It returns an error only when ctx ends.
func (n *lane) acquire(ctx context.Context, kv jetstream.KeyValue) (*held, error) {
	var lastErr string
	for {
		start := time.Now()
		rec, rev, err := readRecord[leaseRecord](ctx, kv, "delivery lease", n.leaseKey())
		var ready time.Time
		if err == nil {
			free := rec == nil || rec.Released || rec.Holder == n.holder || start.After(rec.Until.Add(leaseSkew))
			if !free {
				err = errBusy
			} else {
				rev, err = writeRecord(ctx, kv, "delivery lease", n.leaseKey(), leaseRecord{Holder: n.holder, Until: start.Add(n.leaseTTL)}, rev)
				if err == nil && rec != nil && !rec.Released && rec.Holder != n.holder {
					ready = rec.Until.Add(leaseSkew + n.ackWait)
					n.o.Logger.Warn().Str("previous_holder", rec.Holder).Time("fetch_at", ready).
						Msg("slack: took delivery over from a replica that stopped without handing its batch back; waiting for its redelivery")
				}
			}
		}
		if err == nil {
			n.o.Logger.Info().Str("holder", n.holder).Msg("slack: this replica delivers to the destination")
			h := n.hold(ctx, kv, rev, start.Add(n.leaseTTL))
			if err := retry.SleepUntil(h.ctx, ready); err != nil {
				h.release(n, kv)
				return nil, fmt.Errorf("slack notifier: wait for a redelivery: %w", err)
			}
			return h, nil
		}
		if !errors.Is(err, errBusy) && !isConflict(err) && err.Error() != lastErr {
			n.o.Logger.Warn().Err(err).Msg("slack: cannot take the delivery lease; trying again")
			lastErr = err.Error()
		}
		if err := retry.SleepUntil(ctx, time.Now().Add(n.leaseTTL/3)); err != nil {
			return nil, fmt.Errorf("slack notifier: wait for the delivery lease: %w", err)
		}
	}
}

var errBusy = errors.New("another replica holds the delivery lease")

// hold renews the lease every leaseTTL/3 until h.ctx ends. The lease is
// lost, and h.ctx cancelled, when a renewal finds another holder or none
// succeeds before deadline: the holder stops by then, by its own clock,
// so that the next one (which waits for the recorded expiry plus
// leaseSkew) never overlaps with it.
func (n *lane) hold(ctx context.Context, kv jetstream.KeyValue, rev uint64, deadline time.Time) *held {
	hctx, cancel := context.WithCancel(ctx)
	h := &held{ctx: hctx, cancel: cancel, done: make(chan struct{}), rev: rev}
	go func() {
		defer close(h.done)
		lose := func(why string, err error) {
			h.lost = true
			n.o.Logger.Warn().Err(err).Msg("slack: delivery lease lost (" + why + "); handing the batch back")
			cancel()
		}
		for {
			next := min(time.Until(deadline), n.leaseTTL/3)
			select {
			case <-hctx.Done():
				return
			case <-time.After(next):
			}
			start := time.Now()
			if !start.Before(deadline) {
				lose("not renewed in time", nil)
				return
			}
			rctx, rcancel := context.WithDeadline(hctx, deadline)
			rev, err := writeRecord(rctx, kv, "delivery lease", n.leaseKey(), leaseRecord{Holder: n.holder, Until: start.Add(n.leaseTTL)}, h.rev)
			rcancel()
			switch {
			case err == nil:
				h.rev, deadline = rev, start.Add(n.leaseTTL)
			case isConflict(err):
				lose("another replica took it", err)
				return
			case hctx.Err() != nil:
				return
			}
		}
	}()
	return h
}

// release stops renewing and, unless the lease was lost, marks it
// released: the batch was handed back before (handle naks what it did not
// finish), so the next holder may start at once.
func (h *held) release(n *lane, kv jetstream.KeyValue) {
	h.cancel()
	<-h.done
	if h.lost {
		return
	}
	rec := leaseRecord{Holder: n.holder, Until: time.Now(), Released: true}
	if _, err := writeRecord(context.Background(), kv, "delivery lease", n.leaseKey(), rec, h.rev); err != nil {
		n.o.Logger.Warn().Err(err).Msg("slack: could not release the delivery lease; another replica takes over when it lapses")
	}
}

// isConflict recognises a compare-and-swap that lost to another writer.
func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) ||
		errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
