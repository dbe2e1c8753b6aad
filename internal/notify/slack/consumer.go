package slack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// Defaults of Options.
const (
	DefaultStream        = "DCS_MIGRATION"
	DefaultConsumer      = "slack"
	DefaultMarksBucket   = "SLACK_DELIVERED"
	DefaultMinRetryDelay = time.Second
	DefaultMaxRetryDelay = 5 * time.Minute
)

const (
	// ackWait is how long JetStream waits for an ack before it redelivers;
	// it must exceed sendTimeout plus the time to write the mark and ack.
	ackWait     = 30 * time.Second
	sendTimeout = 20 * time.Second
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
	// pullExpiry bounds each pull request of the consumer.
	pullExpiry = 5 * time.Second
)

// DefaultKinds are the kinds posted when Options.Kinds is empty. First sight
// (discovered) is not among them, so a start-up does not flood the channel.
func DefaultKinds() []diff.Kind {
	return []diff.Kind{diff.StatusChanged, diff.Removed, diff.WatchDegraded, diff.WatchRecovered}
}

// Options configure a Notifier. Zero values take the defaults.
type Options struct {
	Stream        string // JetStream stream of the envelopes; DefaultStream
	Consumer      string // durable consumer name, shared by all replicas; DefaultConsumer
	FilterSubject string // e.g. "dcs.migration.>"; empty: every subject of the stream
	Kinds         []diff.Kind
	MarksBucket   string // KV bucket of delivery marks; DefaultMarksBucket
	// MinRetryDelay is the first retry delay after a failed send; it
	// doubles with each delivery up to MaxRetryDelay.
	MinRetryDelay time.Duration
	MaxRetryDelay time.Duration
	Logger        zerolog.Logger // zero value: no logs
	Now           func() time.Time
}

// Stats count what the Notifier did with the messages it received.
type Stats struct {
	Sent    uint64 // accepted by Slack
	Skipped uint64 // kind not posted, or already delivered (mark found)
	Retried uint64 // send failed and the message was handed back for later
	Failed  uint64 // malformed or refused by Slack for good: terminated
}

// Notifier is the Slack delivery consumer. Several Notifiers (one per
// replica) may share one durable consumer.
type Notifier struct {
	js      jetstream.JetStream
	sender  Sender
	o       Options
	kinds   map[diff.Kind]bool
	sent    atomic.Uint64
	skipped atomic.Uint64
	retried atomic.Uint64
	failed  atomic.Uint64
}

// New returns a Notifier that reads envelopes through js and posts them
// with s.
func New(js jetstream.JetStream, s Sender, o Options) *Notifier {
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.Consumer == "" {
		o.Consumer = DefaultConsumer
	}
	if o.MarksBucket == "" {
		o.MarksBucket = DefaultMarksBucket
	}
	if len(o.Kinds) == 0 {
		o.Kinds = DefaultKinds()
	}
	if o.MinRetryDelay <= 0 {
		o.MinRetryDelay = DefaultMinRetryDelay
	}
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if o.MaxRetryDelay < o.MinRetryDelay {
		o.MaxRetryDelay = o.MinRetryDelay
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	kinds := make(map[diff.Kind]bool, len(o.Kinds))
	for _, k := range o.Kinds {
		kinds[k] = true
	}
	return &Notifier{js: js, sender: s, o: o, kinds: kinds}
}

// Stats returns the counters so far.
func (n *Notifier) Stats() Stats {
	return Stats{Sent: n.sent.Load(), Skipped: n.skipped.Load(), Retried: n.retried.Load(), Failed: n.failed.Load()}
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
	// been acked settles it (delivery is in order, MaxAckPending 1).
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
// delivers messages until ctx ends, when it returns nil. One message is in
// flight at a time (MaxAckPending 1), so Slack sees events in stream order
// and a message waiting out a retry holds back the ones behind it.
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
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 1,
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
	// A short pull expiry makes heartbeats frequent (expiry/2), so a pull
	// request lost in a NATS restart is noticed within seconds.
	it, err := cons.Messages(jetstream.PullExpiry(pullExpiry))
	if err != nil {
		return false, fmt.Errorf("consume %s: %w", n.o.Consumer, err)
	}
	defer it.Stop()
	r := &run{Notifier: n, kv: kv}
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				handBack(it)
			}
			return delivered, fmt.Errorf("next message from %s: %w", n.o.Consumer, err)
		}
		delivered = true
		r.handle(ctx, msg)
	}
}

// handBack naks the messages already buffered by the iterator, so that the
// next instance gets them at once instead of after ackWait.
func handBack(it jetstream.MessagesContext) {
	it.Drain()
	for {
		msg, err := it.Next(jetstream.NextMaxWait(time.Second))
		if err != nil {
			return
		}
		_ = msg.Nak()
	}
}

// run is the state of one Run: the marks bucket and the last error
// logged, so a failing Slack gives one warning per kind of failure rather
// than one per retry.
type run struct {
	*Notifier
	kv      jetstream.KeyValue
	lastErr string
}

func (r *run) handle(ctx context.Context, msg jetstream.Msg) {
	var seq, delivered uint64 = 0, 1
	if meta, err := msg.Metadata(); err == nil {
		seq, delivered = meta.Sequence.Stream, meta.NumDelivered
	}
	log := r.o.Logger.With().Str("subject", msg.Subject()).Uint64("stream_seq", seq).Logger()

	var env notify.Envelope
	err := json.Unmarshal(msg.Data(), &env)
	if err == nil && env.ID == "" {
		err = errors.New("envelope has no id")
	}
	if err != nil {
		// It can never succeed: terminate it rather than block the stream.
		log.Error().Err(err).Msg("slack: malformed event terminated")
		r.failed.Add(1)
		_ = msg.TermWithReason("malformed event")
		return
	}
	log = log.With().Str("event_id", env.ID).Str("task_id", env.Data.TaskID).Str("kind", string(env.Data.Kind)).Logger()

	if !r.kinds[env.Data.Kind] {
		r.skipped.Add(1)
		r.ack(ctx, msg, log)
		return
	}
	if ctx.Err() != nil {
		_ = msg.Nak()
		return
	}
	key := markKey(env.ID)
	if _, err := r.kv.Get(ctx, key); err == nil {
		// Sent before a crash prevented the ack: do not post it twice.
		log.Info().Msg("slack: event already delivered, skipped")
		r.skipped.Add(1)
		r.ack(ctx, msg, log)
		return
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		r.retry(ctx, msg, r.backoff(delivered), fmt.Errorf("read delivery mark: %w", err), log)
		return
	}

	m := Render(env)
	sctx, cancel := sendContext(ctx)
	err = r.sender.Send(sctx, &m)
	cancel()
	var rl *slack.RateLimitedError
	switch {
	case err == nil:
		r.delivered(ctx, msg, env, seq, key, log)
	case errors.As(err, &rl):
		r.retry(ctx, msg, max(rl.RetryAfter, time.Second), err, log)
	case errors.Is(err, ErrPermanent):
		log.Error().Err(err).Msg("slack: event refused, terminated")
		r.failed.Add(1)
		_ = msg.TermWithReason("refused by slack")
	default:
		r.retry(ctx, msg, r.backoff(delivered), err, log)
	}
}

// sendContext gives a send its own deadline and lets it outlive ctx by
// shutdownGrace.
func sendContext(ctx context.Context) (context.Context, context.CancelFunc) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(shutdownGrace, cancel) })
	return sctx, func() { stop(); cancel() }
}

// mark is the value of a delivery mark, for whoever inspects the bucket.
type mark struct {
	SentAt    time.Time `json:"sent_at"`
	Subject   string    `json:"subject"`
	StreamSeq uint64    `json:"stream_seq"`
}

func (r *run) delivered(ctx context.Context, msg jetstream.Msg, env notify.Envelope, seq uint64, key string, log zerolog.Logger) {
	r.sent.Add(1)
	if r.lastErr != "" {
		log.Info().Msg("slack: delivery works again")
		r.lastErr = ""
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	val, _ := json.Marshal(mark{SentAt: r.o.Now().UTC(), Subject: msg.Subject(), StreamSeq: seq})
	if _, err := r.kv.Put(fctx, key, val); err != nil {
		// Acking anyway: without the ack the message is posted again now;
		// without the mark only if the ack is lost too.
		log.Warn().Err(err).Msg("slack: could not record delivery")
	}
	if err := msg.DoubleAck(fctx); err != nil {
		log.Warn().Err(err).Msg("slack: ack after delivery failed; the redelivery will be skipped by its mark")
	}
	log.Debug().Msg("slack: event delivered")
}

func (r *run) ack(ctx context.Context, msg jetstream.Msg, log zerolog.Logger) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := msg.DoubleAck(fctx); err != nil {
		log.Warn().Err(err).Msg("slack: ack failed")
	}
}

// retry hands the message back to JetStream to be redelivered after delay.
func (r *run) retry(ctx context.Context, msg jetstream.Msg, delay time.Duration, err error, log zerolog.Logger) {
	if ctx.Err() != nil {
		// Shutting down: give it back at once for the next instance.
		_ = msg.Nak()
		return
	}
	r.retried.Add(1)
	if text := err.Error(); text != r.lastErr {
		log.Warn().Err(err).Dur("retry_in", delay).Msg("slack: delivery failed, will retry")
		r.lastErr = text
	}
	if nerr := msg.NakWithDelay(delay); nerr != nil {
		log.Warn().Err(nerr).Msg("slack: nak failed; JetStream redelivers after the ack wait")
	}
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
