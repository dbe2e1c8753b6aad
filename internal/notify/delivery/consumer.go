package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
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
	// Bot is the Web API connection of the bot-token mode; Channel the
	// default destination in that mode (instead of the Sender given to
	// New), and a Route with a Channel posts there through Bot. Each task
	// gets a live status card per channel, whose records live in
	// CardsBucket (see docs/slack-delivery.md, "Bot mode").
	Bot         *slackwire.Bot
	Channel     string
	CardsBucket string
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
	// Solo says no other replica can share the stream (the embedded NATS):
	// the delivery lease is seized at once (a record there was left by
	// this process's crashed run), and only that run's unacked batch is
	// waited for, so that it posts before the events behind it (turn.go).
	Solo bool
	// DeadRetry is how often the oldest held message probes a destination
	// found dead (revoked webhook, archived channel: slackwire.ErrDeadDestination).
	DeadRetry time.Duration
	// Health publishes the notifier's own watch_degraded / watch_recovered
	// events (scope slack) when the destination dies and works again; nil:
	// they are only logged.
	Health Publisher
	// Routes send each event to the destinations whose match it meets, in
	// order: the first that matches takes it unless it says Continue. An
	// event no route takes goes to the default destination: the route
	// named DefaultRoute, else the Sender given to New; with neither it is
	// not posted. No routes: every event goes to the Sender (one
	// destination, the behaviour before routing).
	Routes       []Route
	DefaultRoute string
	// Template is the template file of the default destination's messages
	// (slack.template; see package msgtmpl); "" for the defaults. A
	// route's own is Route.Template.
	Template string
	// QuietStart: a discovered event posts only when the task is already
	// failed at first sight (whatever Kinds says); off, discovered posts
	// when it is in Kinds, like any kind.
	QuietStart bool
	// DegradedFor holds a watch_degraded back from Slack until the
	// blindness has lasted that long; its watch_recovered posts only if it
	// was posted (see docs/slack-delivery.md, "No noise"). 0: both always
	// post.
	DegradedFor time.Duration
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
	// Quiet counts events the no-noise rule kept from Slack: a
	// watch_degraded whose blindness ended within DegradedFor, and its
	// watch_recovered (acked, not posted).
	Quiet uint64
}

func (o Options) check() error {
	var errs []error
	for name, v := range map[string]string{"stream": o.Stream, "consumer": o.Consumer, "marks bucket": o.MarksBucket} {
		if v == "" {
			errs = append(errs, fmt.Errorf("no %s", name))
		}
	}
	errs = append(errs, o.checkRoutes()...)
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

// consume runs one consumer session on the lane's buckets (see buckets);
// delivered says whether it handled any message, so that a session that
// worked resets the backoff.
func (n *lane) consume(ctx context.Context, b buckets) (delivered bool, err error) {
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
	s := &session{lane: n, kv: b.marks, cards: b.cards}
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

// buckets are the KV buckets a lane works with: the delivery marks, which
// also hold the lanes' leases, episodes and blindness records, and in bot
// mode the card records. They are set up once per lease held (run), not
// per consumer session: a marks bucket lost meanwhile (a NATS that came
// back without its data) loses the lease, which lives there, and run sets
// the buckets up again.
type buckets struct {
	marks jetstream.KeyValue
	cards cards
}

// buckets creates (or updates) the lane's buckets.
func (n *lane) buckets(ctx context.Context) (buckets, error) {
	marks, err := n.marksBucket(ctx)
	if err != nil {
		return buckets{}, err
	}
	b := buckets{marks: marks}
	if n.bot != nil {
		kv, err := createBucket(ctx, n.js, "cards", n.o.CardsBucket, "watcher: where each task's Slack card is, and its timeline", cardsTTL)
		if err != nil {
			return buckets{}, err
		}
		b.cards = cards{kv: kv}
	}
	return b, nil
}

// marksBucket creates (or updates) the bucket of delivery marks.
func (n *lane) marksBucket(ctx context.Context) (jetstream.KeyValue, error) {
	return createBucket(ctx, n.js, "marks", n.o.MarksBucket, "watcher: ids of events delivered to Slack", marksTTL)
}

func createBucket(ctx context.Context, js jetstream.JetStream, what, name, description string, ttl time.Duration) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, Description: description, TTL: ttl})
	if err != nil {
		return nil, fmt.Errorf("create %s bucket %s: %w", what, name, err)
	}
	return kv, nil
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
