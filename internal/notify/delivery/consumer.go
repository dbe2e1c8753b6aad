package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// pullExpiry bounds the pull request that waits for the first event of
// a batch; pullHeartbeat makes a pull lost in a NATS restart show within
// seconds (ErrNoHeartbeat), so that Run sets the consumer up again.
const (
	pullExpiry    = 5 * time.Second
	pullHeartbeat = time.Second
)

// lastSeq is the stream sequence of the last message the consumer would
// receive, 0 if there is none.
func (n *lane) lastSeq(ctx context.Context) (uint64, error) {
	stream, err := n.js.Stream(ctx, n.o.Stream)
	if err != nil {
		return 0, fmt.Errorf("slack notifier: pending: stream %s: %w", n.o.Stream, err)
	}
	filter := n.o.FilterSubject
	if filter == "" {
		filter = ">"
	}
	m, err := stream.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("slack notifier: pending: last message on %s: %w", filter, err)
	}
	return m.Sequence, nil
}

// consume runs one consumer session on the lane's marks bucket (see buckets);
// delivered says whether it handled any message, so that a session that
// worked resets the backoff.
func (n *lane) consume(ctx context.Context, marks jetstream.KeyValue) (delivered bool, err error) {
	cons, err := n.js.CreateOrUpdateConsumer(ctx, n.o.Stream, jetstream.ConsumerConfig{
		Durable:       n.consumer,
		Description:   "watcher: posts migration events to Slack",
		FilterSubject: n.o.FilterSubject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		// A batch is held unacked while it is paced out, retried or, for
		// as long as a dead destination lasts (hours, days), probed. Nothing
		// here lets JetStream give up on it: MaxDeliver -1 never terminates
		// an event however often it is redelivered (a restart, a crashed
		// replica), and keepAlive's InProgress every AckWait/3 restarts the
		// ack timer without counting a delivery, so a held batch is not
		// redelivered at all. Only the stream's own limits (nats.max_age)
		// can remove an event that waits longer than they allow.
		AckWait:       n.ackWait,
		MaxDeliver:    -1,
		MaxAckPending: n.o.GroupMax,
	})
	if err != nil {
		return false, fmt.Errorf("create consumer %s on stream %s: %w", n.consumer, n.o.Stream, err)
	}
	if n.o.Solo {
		n.reclaim(ctx, cons)
	}
	blind := blindness{kv: marks, lane: n.name, degradedFor: n.o.DegradedFor, now: n.o.Now}
	s := &session{lane: n, kv: marks, blind: blind}
	n.outage.resume(ctx, marks)
	for {
		n.resettle(ctx)
		msgs, err := n.fetch(ctx, cons)
		if len(msgs) > 0 {
			delivered = true
			s.handle(ctx, msgs)
		}
		if err != nil {
			return delivered, err
		}
		if ctx.Err() != nil {
			return delivered, ctx.Err()
		}
	}
}

// reclaim makes the events the consumer counts as delivered and not acked
// deliverable again at once, in stream order from its ack floor. Only a
// lane on the embedded server (Solo) does it, as a session starts: it
// holds no event then and no other process can, so those events are
// orphans: the batch of a run that crashed, or one this process handed
// back before a reload restarted the embedded server, which keeps what is
// pending across a restart but not its naks. Left alone, they would come
// back only after AckWait, behind the events that follow them. Events
// above the floor that were delivered and acked come again too, and are
// skipped by their marks; delivery counts (the retry backoff) start over.
// If the reset fails, the events come back after AckWait, as before.
func (n *lane) reclaim(ctx context.Context, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil || info.NumAckPending == 0 {
		return
	}
	if _, err := n.js.ResetConsumer(ctx, n.o.Stream, n.consumer); err != nil {
		n.o.Logger.Warn().Err(err).Int("unacked", info.NumAckPending).
			Msg("slack: could not hand the unacked events back at once; they come back after the ack wait")
		return
	}
	n.o.Logger.Info().Int("unacked", info.NumAckPending).Uint64("ack_floor", info.AckFloor.Stream).
		Msg("slack: events left unacked by an earlier run delivered again from the ack floor")
}

// buckets creates (or updates) the KV buckets a lane works with: the
// delivery marks, which also hold the lanes' leases, episodes and
// blindness records, and what its destination keeps (a channel's card
// records). They are set up once per lease held (run), not per consumer
// session: a marks bucket lost meanwhile (a NATS that came back without
// its data) loses the lease, which lives there, and run sets the buckets
// up again.
func (n *lane) buckets(ctx context.Context) (jetstream.KeyValue, error) {
	marks, err := n.marksBucket(ctx)
	if err != nil {
		return nil, err
	}
	if err := n.dest.prepare(ctx, n.js); err != nil {
		return nil, err
	}
	return marks, nil
}

// marksBucket creates (or updates) the bucket of delivery marks.
func (n *lane) marksBucket(ctx context.Context) (jetstream.KeyValue, error) {
	return createBucket(ctx, n.js, "marks", n.o.MarksBucket, "watcher: ids of events delivered to Slack", marksTTL)
}

// fetch waits up to pullExpiry for an event, then, once the pacer would
// let a message go, takes the events already waiting behind it, up to
// GroupMax in all. So the first event after a quiet spell is sent at
// once, and during a burst the events that arrive while the previous
// message's pacing interval runs are grouped rather than queued.
func (n *lane) fetch(ctx context.Context, cons jetstream.Consumer) ([]jetstream.Msg, error) {
	pctx, cancel := context.WithTimeout(ctx, pullExpiry)
	defer cancel()
	b, err := cons.Fetch(1, jetstream.FetchContext(pctx), jetstream.FetchHeartbeat(pullHeartbeat))
	if err != nil {
		return nil, fmt.Errorf("fetch from %s: %w", n.consumer, err)
	}
	msgs, err := collect(b)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = nil // the pull expired: a quiet spell, not a failure
	}
	if err != nil || len(msgs) == 0 || n.o.GroupMax == 1 {
		return msgs, wrapFetch(n.consumer, err)
	}
	if err := n.pace.ready(ctx); err != nil {
		return msgs, wrapFetch(n.consumer, err)
	}
	b, err = cons.FetchNoWait(n.o.GroupMax - len(msgs))
	if err != nil {
		return msgs, wrapFetch(n.consumer, err)
	}
	rest, err := collect(b)
	return append(msgs, rest...), wrapFetch(n.consumer, err)
}

// collect drains a fetch: the messages it got, then its error.
func collect(b jetstream.MessageBatch) ([]jetstream.Msg, error) {
	var msgs []jetstream.Msg
	for m := range b.Messages() {
		msgs = append(msgs, m)
	}
	return msgs, b.Error()
}

func wrapFetch(consumer string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("fetch from %s: %w", consumer, err)
}
