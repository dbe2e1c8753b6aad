package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
)

// counters are shared by every lane of a Notifier.
type counters struct {
	sent      atomic.Uint64
	events    atomic.Uint64
	skipped   atomic.Uint64
	silencedN atomic.Uint64
	retried   atomic.Uint64
	throttled atomic.Uint64
	failed    atomic.Uint64
	dead      atomic.Uint64
	quieted   atomic.Uint64
}

// lane delivers the events routed to one destination.
type lane struct {
	js jetstream.JetStream
	// dest is where the lane's messages go: a webhook or a channel.
	dest destination
	o    Options
	// name is the route's, "" for the default destination of
	// slack.webhook_url, which keeps the names used before routing (its
	// consumer is o.Consumer, its marks keys are the event ids).
	name     string
	consumer string
	kinds    map[diff.Kind]bool
	router   *router
	pace     *pacer
	// ackWait is the consumer's AckWait; a field so that a test can show
	// that the keep-alive covers a batch that takes longer.
	ackWait time.Duration
	// holder names this Notifier in the lane's delivery lease (turn.go);
	// leaseTTL is a field so that a test can take over faster.
	holder   string
	leaseTTL time.Duration
	// unsettled are acks JetStream did not confirm, tried again before
	// each fetch; only the lane's goroutine uses them.
	unsettled []unsettled
	// outage is the dead-destination episode, if one is under way.
	outage *outage
	*counters
}

// unsettled is an event whose ack JetStream did not confirm.
type unsettled struct {
	msg   jetstream.Msg
	since time.Time
}

// takes says whether this lane posts an event: its kind posts (Kinds, or
// for discovered the quiet-start rule) and the routes send it here; a
// late reason is judged as the follow-up of its failure (asFollowUp).
func (n *lane) takes(d notify.Data) bool {
	d = slackmsg.AsFollowUp(d)
	if d.Kind == diff.Discovered && n.o.QuietStart {
		if out, _ := d.Classified(); out != dcs.OutcomeFailed {
			return false
		}
	} else if !n.kinds[d.Kind] {
		return false
	}
	return slices.Contains(n.router.destinations(d), n.name)
}

// markKey is the KV key of an event's delivery mark for this lane: the
// default destination's are the bare ids (as before routing, so that an
// upgrade does not post again what was delivered), a route's are under
// "to.<route>.", so that each destination's marks are its own.
func (n *lane) markKey(id string) string {
	if n.name == "" {
		return markKey(id)
	}
	return "to." + n.name + "." + markKey(id)
}

// backoff is MinRetryDelay doubled for each earlier delivery, capped at
// MaxRetryDelay. The delivery count lives in JetStream, so the backoff
// survives a restart.
func (n *lane) backoff(delivered uint64) time.Duration {
	d := n.o.MinRetryDelay
	for i := uint64(1); i < delivered && d < n.o.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, n.o.MaxRetryDelay)
}

// markKey is the KV key of an event id. Ids are hex digests and used as
// they are; anything else a KV key cannot hold is hashed, which keeps keys
// distinct where replacing characters would not.
func markKey(id string) string {
	for _, c := range []byte(id) {
		ok := c == '-' || c == '_' || c == '=' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !ok {
			sum := sha256.Sum256([]byte(id))
			return "sha256-" + hex.EncodeToString(sum[:])
		}
	}
	return id
}

// ack acks an event, even while shutting down (bounded by finishTimeout).
func (n *lane) ack(ctx context.Context, it *item) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	n.settle(fctx, it)
}

// settle acks an event and waits for JetStream to confirm. An ack that
// fails (NATS going away) is kept and tried again before each fetch
// (resettle): otherwise the event would stay pending, holding a slot of
// MaxAckPending and keeping Pending above zero, until AckWait after NATS
// is back, and then be redelivered only to be skipped by its mark.
func (n *lane) settle(ctx context.Context, it *item) {
	err := it.msg.DoubleAck(ctx)
	if err == nil || errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		return
	}
	it.log.Warn().Err(err).Msg("slack: ack failed; trying again when NATS answers (a redelivery would be skipped by its mark)")
	n.unsettled = append(n.unsettled, unsettled{msg: it.msg, since: time.Now()})
}

// resettle tries the acks that failed again. One older than AckWait is
// given up: JetStream has redelivered that event, and the redelivery is
// settled on its own.
func (n *lane) resettle(ctx context.Context) {
	kept := n.unsettled[:0]
	for _, u := range n.unsettled {
		if time.Since(u.since) > n.ackWait {
			continue
		}
		fctx, cancel := context.WithTimeout(ctx, finishTimeout)
		err := u.msg.DoubleAck(fctx)
		cancel()
		if err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
			kept = append(kept, u)
		}
	}
	n.unsettled = kept
}
