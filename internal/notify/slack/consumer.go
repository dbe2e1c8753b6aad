package slack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

const (
	// ackWait is how long JetStream waits for an ack before it redelivers
	// to another replica, once this one has stopped telling it (every
	// ackWait/3, see keepAlive) that it still works on a batch. Pacing,
	// Retry-After, backoff and sends can hold a batch far longer: the
	// keep-alive, not ackWait, covers them, so ackWait stays short and a
	// crashed replica's batch is taken over within it.
	ackWait = 30 * time.Second
	// shutdownGrace lets a send in flight when Run's ctx ends finish, so a
	// message Slack has just received is marked and acked rather than
	// posted again by the next instance.
	shutdownGrace = 5 * time.Second
	// finishTimeout bounds writing the mark and the ack, which must happen
	// even while shutting down.
	finishTimeout = 5 * time.Second
	// marksTTL is how long a delivery mark is kept: far longer than any
	// redelivery can take (ackWait), short enough to keep the bucket small.
	marksTTL = 7 * 24 * time.Hour
	// pullExpiry bounds the pull request that waits for the first event of
	// a batch; pullHeartbeat makes a pull lost in a NATS restart show
	// within seconds (ErrNoHeartbeat), so that Run sets the consumer up
	// again.
	pullExpiry    = 5 * time.Second
	pullHeartbeat = time.Second
)

// Options configure a Notifier. They have no defaults here: the config
// package owns every default, and New refuses what is missing.
type Options struct {
	Stream        string // JetStream stream of the envelopes
	Consumer      string // durable consumer name, shared by all replicas
	FilterSubject string // e.g. "dcs.migration.>"; empty: every subject of the stream
	Kinds         []diff.Kind
	MarksBucket   string // KV bucket of delivery marks
	// MinRetryDelay is the first retry delay after a failed send; it
	// doubles with each delivery up to MaxRetryDelay.
	MinRetryDelay time.Duration
	MaxRetryDelay time.Duration
	// Rate is the most messages sent per second.
	Rate float64
	// GroupMin is the smallest group of like events posted as one grouped
	// message (see docs/slack-delivery.md), at least 2.
	// NoGrouping posts every event as a message of its own.
	GroupMin   int
	NoGrouping bool
	// GroupMax is how many waiting events are pulled at once, so the
	// largest group, and the consumer's MaxAckPending: the events one
	// replica holds unacked (the config bounds it).
	GroupMax int
	// SendTimeout bounds one post (slack.timeout); a post that times out is
	// tried again like any failed send.
	SendTimeout time.Duration
	// DeadRetry is how often the oldest held message probes a destination
	// found dead (revoked webhook, archived channel: ErrDeadDestination).
	DeadRetry time.Duration
	// Health publishes the notifier's own watch_degraded / watch_recovered
	// events (scope slack) when the destination dies and works again; nil:
	// they are only logged.
	Health Publisher
	// Project is the project those events name; empty: "_watcher".
	Project string
	Logger  zerolog.Logger // zero value: no logs
	Now     func() time.Time
}

// Publisher publishes the notifier's health events on the stream, where an
// operator's consumer sees them; *notify.Publisher is one.
type Publisher interface {
	Envelope(ev diff.Event, m notify.Meta) notify.Envelope
	Publish(ctx context.Context, env notify.Envelope) error
}

// Stats count what the Notifier did with the events it received. Sent
// counts messages, the other fields events: with grouping, Events is
// larger than Sent.
type Stats struct {
	Sent      uint64 // messages accepted by Slack
	Events    uint64 // events those messages carried, each marked delivered and acked
	Skipped   uint64 // kind not posted, or already delivered (mark found)
	Retried   uint64 // failed attempts (send or mark read) that were tried again; 429s included
	Throttled uint64 // 429 answers from Slack
	Failed    uint64 // malformed or refused by Slack for good: terminated
	// Dead counts episodes of a dead destination (revoked webhook,
	// archived channel, ...): each began with one error log line and one
	// watch_degraded event, while the events waited.
	Dead uint64
}

// Notifier is the Slack delivery consumer. Several Notifiers (one per
// replica) may share one durable consumer.
type Notifier struct {
	js     jetstream.JetStream
	sender Sender
	o      Options
	kinds  map[diff.Kind]bool
	pace   *pacer
	// ackWait is the consumer's AckWait; a field so that a test can show
	// that the keep-alive covers a batch that takes longer.
	ackWait time.Duration
	// unsettled are acks JetStream did not confirm, tried again before
	// each fetch; only Run's goroutine uses them.
	unsettled []unsettled
	sent      atomic.Uint64
	events    atomic.Uint64
	skipped   atomic.Uint64
	retried   atomic.Uint64
	throttled atomic.Uint64
	failed    atomic.Uint64
	dead      atomic.Uint64
	// episode is the dead-destination episode under way, nil while the
	// destination works; only Run's goroutine uses it.
	episode *episode
}

// New returns a Notifier that reads envelopes through js and posts them
// with s. It refuses options that are missing or out of bounds.
func New(js jetstream.JetStream, s Sender, o Options) (*Notifier, error) {
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("slack notifier: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	kinds := make(map[diff.Kind]bool, len(o.Kinds))
	for _, k := range o.Kinds {
		kinds[k] = true
	}
	return &Notifier{js: js, sender: s, o: o, kinds: kinds, pace: newPacer(o.Rate), ackWait: ackWait}, nil
}

func (o Options) check() error {
	var errs []error
	for name, v := range map[string]string{"stream": o.Stream, "consumer": o.Consumer, "marks bucket": o.MarksBucket} {
		if v == "" {
			errs = append(errs, fmt.Errorf("no %s", name))
		}
	}
	if len(o.Kinds) == 0 {
		errs = append(errs, errors.New("no event kinds to post"))
	}
	if o.MinRetryDelay <= 0 || o.MaxRetryDelay < o.MinRetryDelay {
		errs = append(errs, fmt.Errorf("retry delays %s..%s: want 0 < min <= max", o.MinRetryDelay, o.MaxRetryDelay))
	}
	if !(o.Rate > 0) || math.IsInf(o.Rate, 0) {
		errs = append(errs, fmt.Errorf("rate %v: want a positive number of messages per second", o.Rate))
	}
	if !o.NoGrouping && o.GroupMin < 2 {
		errs = append(errs, fmt.Errorf("group min %d: a group has at least 2 events", o.GroupMin))
	}
	if o.GroupMax < 1 {
		errs = append(errs, fmt.Errorf("group max %d: want at least 1", o.GroupMax))
	}
	if o.SendTimeout <= 0 {
		errs = append(errs, fmt.Errorf("send timeout %s: want a positive duration", o.SendTimeout))
	}
	if o.DeadRetry <= 0 {
		errs = append(errs, fmt.Errorf("dead retry %s: want a positive duration", o.DeadRetry))
	}
	return errors.Join(errs...)
}

// Stats returns the counters so far.
func (n *Notifier) Stats() Stats {
	return Stats{
		Sent: n.sent.Load(), Events: n.events.Load(), Skipped: n.skipped.Load(),
		Retried: n.retried.Load(), Throttled: n.throttled.Load(), Failed: n.failed.Load(),
		Dead: n.dead.Load(),
	}
}

// Pending is the number of messages the consumer has not finished with:
// not yet delivered plus delivered and not yet acked (a message waiting
// out a retry delay counts). Zero means Slack has caught up. Before Run has
// created the consumer the error wraps jetstream.ErrConsumerNotFound.
func (n *Notifier) Pending(ctx context.Context) (uint64, error) {
	cons, err := n.js.Consumer(ctx, n.o.Stream, n.o.Consumer)
	if err != nil {
		return 0, fmt.Errorf("slack notifier: pending: consumer %s on stream %s: %w", n.o.Consumer, n.o.Stream, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("slack notifier: pending: consumer info %s: %w", n.o.Consumer, err)
	}
	p := info.NumPending + uint64(info.NumAckPending)
	if p > 0 {
		return p, nil
	}
	// Just after the consumer is created the server may report nothing
	// pending before it has counted; whether the last matching message has
	// been acked settles it (the ack floor is the last sequence below which
	// everything is acked, however many are in flight).
	last, err := n.lastSeq(ctx)
	if err != nil {
		return 0, err
	}
	if info.AckFloor.Stream < last {
		return 1, nil
	}
	return 0, nil
}

// lastSeq is the stream sequence of the last message the consumer would
// receive, 0 if there is none.
func (n *Notifier) lastSeq(ctx context.Context) (uint64, error) {
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

// Run creates (or updates) the durable consumer and the marks bucket, then
// delivers events until ctx ends, when it returns nil. It works on one
// batch at a time (see docs/slack-delivery.md) and fetches the next only
// when the batch is done, so Slack sees events in stream order and an event
// waiting out a retry, or a dead destination, holds back the ones behind it.
//
// A lost connection, a NATS restart or a missed heartbeat does not end Run:
// it logs, waits (1 s doubling to 30 s) and sets the consumer up again, so
// Slack delivery resumes by itself when NATS is back.
func (n *Notifier) Run(ctx context.Context) error {
	wait := time.Second
	for {
		delivered, err := n.consume(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if delivered {
			wait = time.Second
		}
		n.o.Logger.Warn().Err(err).Dur("retry_in", wait).Msg("slack notifier: consumer interrupted; setting it up again")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// consume runs one consumer session; delivered says whether it handled any
// message, so that a session that worked resets the backoff.
func (n *Notifier) consume(ctx context.Context) (delivered bool, err error) {
	cons, err := n.js.CreateOrUpdateConsumer(ctx, n.o.Stream, jetstream.ConsumerConfig{
		Durable:       n.o.Consumer,
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
		return false, fmt.Errorf("create consumer %s on stream %s: %w", n.o.Consumer, n.o.Stream, err)
	}
	kv, err := n.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      n.o.MarksBucket,
		Description: "watcher: ids of events delivered to Slack",
		TTL:         marksTTL,
	})
	if err != nil {
		return false, fmt.Errorf("create marks bucket %s: %w", n.o.MarksBucket, err)
	}
	s := &session{Notifier: n, kv: kv}
	s.resume(ctx)
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

// fetch waits up to pullExpiry for an event, then, once the pacer would
// let a message go, takes the events already waiting behind it, up to
// GroupMax in all. So the first event after a quiet spell is sent at
// once, and during a burst the events that arrive while the previous
// message's pacing interval runs are grouped rather than queued.
func (n *Notifier) fetch(ctx context.Context, cons jetstream.Consumer) ([]jetstream.Msg, error) {
	pctx, cancel := context.WithTimeout(ctx, pullExpiry)
	defer cancel()
	b, err := cons.Fetch(1, jetstream.FetchContext(pctx), jetstream.FetchHeartbeat(pullHeartbeat))
	if err != nil {
		return nil, fmt.Errorf("fetch from %s: %w", n.o.Consumer, err)
	}
	msgs, err := collect(b)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = nil // the pull expired: a quiet spell, not a failure
	}
	if err != nil || len(msgs) == 0 || n.o.GroupMax == 1 {
		return msgs, wrapFetch(n.o.Consumer, err)
	}
	if err := n.pace.ready(ctx); err != nil {
		return msgs, wrapFetch(n.o.Consumer, err)
	}
	b, err = cons.FetchNoWait(n.o.GroupMax - len(msgs))
	if err != nil {
		return msgs, wrapFetch(n.o.Consumer, err)
	}
	rest, err := collect(b)
	return append(msgs, rest...), wrapFetch(n.o.Consumer, err)
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

// backoff is MinRetryDelay doubled for each earlier delivery, capped at
// MaxRetryDelay. The delivery count lives in JetStream, so the backoff
// survives a restart.
func (n *Notifier) backoff(delivered uint64) time.Duration {
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
