package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/retry"
)

// session is the state of one consumer session: the marks bucket, the
// no-noise rule over it, and the last error logged, so that a failing
// Slack gives one warning per kind of failure rather than one per retry.
// Only Run's goroutine uses it. It asks the lane's destination what to
// post and to post it; the rest of delivery is its own.
type session struct {
	*lane
	kv      jetstream.KeyValue
	blind   blindness
	lastErr string
}

// result is how the delivery of one message ended.
type result int

const (
	endPosted      result = iota // Slack took it: marked and acked
	endRejected                  // Slack refused it for good
	endInterrupted               // ctx ended before Slack took it
)

// handle delivers one batch: it terminates malformed events, acks those
// that are not posted or were delivered before, plans the messages and
// sends them in order at the pacer's rate, retrying each until Slack takes
// or refuses it. It returns when every event of the batch is acked or
// terminated or, once ctx ends, handed back. Until then nothing behind the
// batch is fetched, which keeps per-task order through retries.
func (s *session) handle(ctx context.Context, msgs []jetstream.Msg) {
	defer keepAlive(msgs, s.ackWait/3)()
	items, ok := s.admit(ctx, msgs)
	if !ok {
		handBack(msgs)
		return
	}
	queue := s.dest.plan(ctx, items)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		switch out, err := s.deliver(ctx, p); out {
		case endInterrupted:
			handBack(msgs)
			return
		case endRejected:
			queue = append(s.refused(p, err), queue...)
		}
	}
}

// admit sorts a batch: malformed events are terminated, events of kinds
// not posted and events already delivered (mark found, after a crash
// between send and ack) are acked, and the rest are returned in stream
// order. ok is false if ctx ended first.
func (s *session) admit(ctx context.Context, msgs []jetstream.Msg) (items []*item, ok bool) {
	for _, msg := range msgs {
		it, ok := s.decode(msg)
		if !ok {
			continue
		}
		hide, err := s.silenced(ctx, it)
		if err != nil {
			return nil, false
		}
		if hide {
			s.silencedN.Add(1)
			s.ack(ctx, it)
			continue
		}
		if !s.takes(it.env.Data) || ownHealth(it.env.Data) {
			s.skipped.Add(1)
			s.ack(ctx, it)
			continue
		}
		done, err := s.isDelivered(ctx, it)
		if err != nil {
			return nil, false
		}
		if done {
			it.log.Info().Msg("slack: event already delivered, skipped")
			s.skipped.Add(1)
			s.ack(ctx, it)
			continue
		}
		switch v, err := s.quiet(ctx, it); {
		case err != nil:
			return nil, false
		case v == later:
			continue
		case v == drop:
			s.quieted.Add(1)
			s.ack(ctx, it)
			continue
		}
		items = append(items, it)
	}
	return items, ctx.Err() == nil
}

// silenced says whether a silence holds the event (Options.Silences, or
// its data.silenced mark when there is none); a failed record is tried
// again with backoff, and the error is returned only when ctx ends.
func (s *session) silenced(ctx context.Context, it *item) (bool, error) {
	if s.o.Silences == nil {
		return it.env.Data.Silenced != "", nil
	}
	for attempt := it.delivered; ; attempt++ {
		hide, err := s.o.Silences.Observe(ctx, it.env)
		if err == nil {
			return hide, nil
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		delay := s.backoff(attempt)
		s.retrying(it.log, fmt.Errorf("record the event for the silences: %w", err), delay)
		if err := retry.SleepUntil(ctx, time.Now().Add(delay)); err != nil {
			return false, err
		}
	}
}

// decode reads an envelope; one that can never be posted is terminated
// rather than left to block the stream.
func (s *session) decode(msg jetstream.Msg) (*item, bool) {
	it := &item{msg: msg, delivered: 1}
	if meta, err := msg.Metadata(); err == nil {
		it.seq, it.delivered = meta.Sequence.Stream, meta.NumDelivered
	}
	it.log = s.o.Logger.With().Str("subject", msg.Subject()).Uint64("stream_seq", it.seq).Logger()
	err := json.Unmarshal(msg.Data(), &it.env)
	if err == nil && it.env.ID == "" {
		err = errors.New("envelope has no id")
	}
	if err != nil {
		it.log.Error().Err(err).Msg("slack: malformed event terminated")
		s.failed.Add(1)
		_ = msg.TermWithReason("malformed event")
		return nil, false
	}
	it.env.NATSSubject = msg.Subject()
	d := it.env.Data
	it.log = it.log.With().Str("event_id", it.env.ID).Str("task_id", d.TaskID).Str("kind", string(d.Kind)).Logger()
	return it, true
}

// isDelivered reads the event's delivery mark. A failed read is tried
// again with backoff rather than taken as "not delivered", which could
// post the event twice; the error is returned only when ctx ends.
func (s *session) isDelivered(ctx context.Context, it *item) (bool, error) {
	key := s.markKey(it.env.ID)
	for attempt := it.delivered; ; attempt++ {
		_, err := s.kv.Get(ctx, key)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, jetstream.ErrKeyNotFound):
			return false, nil
		case ctx.Err() != nil:
			return false, ctx.Err()
		}
		delay := s.backoff(attempt)
		s.retrying(it.log, fmt.Errorf("read delivery mark: %w", err), delay)
		if err := retry.SleepUntil(ctx, time.Now().Add(delay)); err != nil {
			return false, err
		}
	}
}

// quiet applies the no-noise rule (blindness) to an event of this lane.
// A failed read or write of its record is tried again with backoff; the
// error is returned only when ctx ends.
func (s *session) quiet(ctx context.Context, it *item) (verdict, error) {
	if !s.blind.applies(it.env.Data) {
		return pass, nil
	}
	for attempt := it.delivered; ; attempt++ {
		v, err := s.blind.decide(ctx, it)
		switch {
		case err == nil:
			return v, nil
		case ctx.Err() != nil:
			return pass, ctx.Err()
		case errors.Is(err, jetstream.ErrKeyExists):
			continue // another replica wrote first: read again and decide anew
		}
		delay := s.backoff(attempt)
		s.retrying(it.log, fmt.Errorf("no-noise record: %w", err), delay)
		if err := retry.SleepUntil(ctx, time.Now().Add(delay)); err != nil {
			return pass, err
		}
	}
}

// deliver sends one message, paced, until Slack takes or refuses it or ctx
// ends. A 429 is tried again after its Retry-After, which also holds back
// the pacer; any other failure after the backoff of the events' delivery
// count plus the attempts so far. A dead destination holds the message
// (and so the batch and everything behind it) and probes every DeadRetry:
// no event is acked or terminated, and stream order is kept for when it
// works again. While it is dead, any failure waits at least DeadRetry.
func (s *session) deliver(ctx context.Context, p post) (result, error) {
	log := s.postLogger(p)
	attempt := p.delivered()
	for {
		if err := s.pace.wait(ctx); err != nil {
			return endInterrupted, err
		}
		sctx, cancel := sendContext(ctx, s.o.SendTimeout)
		err := s.dest.send(sctx, p)
		cancel()
		s.pace.answered()
		var rl *slack.RateLimitedError
		var delay time.Duration
		switch {
		case err == nil:
			s.revived(ctx, log)
			s.accepted(ctx, p, log)
			return endPosted, nil
		case errors.Is(err, slackwire.ErrDeadDestination):
			s.retried.Add(1)
			if s.outage.current == nil {
				s.dead.Add(1) // an episode begins
			}
			s.outage.destinationDead(ctx, s.kv, p.items[0].seq, log, err)
		case errors.As(err, &rl):
			s.throttled.Add(1)
			delay = max(rl.RetryAfter, time.Second)
			s.pace.holdOff(delay)
			s.retrying(log, err, delay)
		case errors.Is(err, slackwire.ErrPermanent):
			s.revived(ctx, log)
			return endRejected, err
		default:
			delay = s.backoff(attempt)
			attempt++
			s.retrying(log, err, delay)
		}
		if s.outage.current != nil {
			delay = max(delay, s.o.DeadRetry)
		}
		if err := retry.SleepUntil(ctx, time.Now().Add(delay)); err != nil {
			return endInterrupted, err
		}
	}
}

// revived ends the destination's outage, if any: Slack answered about a
// message, so the destination works. The failure is over: accepted must
// not log it again.
func (s *session) revived(ctx context.Context, log zerolog.Logger) {
	if s.outage.revived(ctx, s.kv, log) {
		s.lastErr = ""
	}
}

// refused deals with a message Slack refused for good. An event on its
// own is terminated: sending it again cannot succeed. A grouped message's
// events are posted one by one instead, so that one event Slack cannot
// take (a name it rejects) does not silence its whole group; the returned
// posts go first in the queue.
func (s *session) refused(p post, err error) []post {
	if len(p.items) > 1 {
		log := s.postLogger(p)
		log.Warn().Err(err).Msg("slack: grouped message refused; posting its events one by one")
		return s.dest.split(p)
	}
	it := p.items[0]
	it.log.Error().Err(err).Msg("slack: event refused, terminated")
	s.failed.Add(1)
	_ = it.msg.TermWithReason("refused by slack")
	return nil
}

// deliveryMark is the value of a delivery mark, for whoever inspects the bucket.
type deliveryMark struct {
	SentAt    time.Time `json:"sent_at"`
	Subject   string    `json:"subject"`
	StreamSeq uint64    `json:"stream_seq"`
}

// accepted marks every event of a message Slack took as delivered, then
// acks it; the counters move first, so that whoever sees the consumer
// drained sees them final.
func (s *session) accepted(ctx context.Context, p post, log zerolog.Logger) {
	s.sent.Add(1)
	s.events.Add(uint64(len(p.items)))
	if s.lastErr != "" {
		log.Info().Msg("slack: delivery works again")
		s.lastErr = ""
	}
	for _, it := range p.items {
		s.finish(ctx, it)
	}
	log.Debug().Int("events", len(p.items)).Msg("slack: message delivered")
}

func (s *session) finish(ctx context.Context, it *item) {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	val, _ := json.Marshal(deliveryMark{SentAt: s.o.Now().UTC(), Subject: it.msg.Subject(), StreamSeq: it.seq})
	if _, err := s.kv.Put(mctx, s.markKey(it.env.ID), val); err != nil {
		// Acking anyway: without the ack the event is posted again now;
		// without the mark only if the ack is lost too.
		it.log.Warn().Err(err).Msg("slack: could not record delivery")
	}
	// The ack has a time of its own: a mark write that hung until its
	// timeout (a full disk: the bucket answers no write) must not take the
	// ack down with it, as the ack needs no disk write to be confirmed.
	s.ack(ctx, it)
}

// retrying counts a failed attempt that will be tried again after delay,
// and logs it unless it failed the same way as the last one.
func (s *session) retrying(log zerolog.Logger, err error, delay time.Duration) {
	s.retried.Add(1)
	if text := err.Error(); text != s.lastErr {
		log.Warn().Err(err).Dur("retry_in", delay).Msg("slack: delivery failed, will retry")
		s.lastErr = text
	}
}

// postLogger is the logger of one message: its event's, or for a grouped
// message the range of events it carries.
func (s *session) postLogger(p post) zerolog.Logger {
	if len(p.items) == 1 {
		return p.items[0].log
	}
	first, last := p.items[0], p.items[len(p.items)-1]
	return s.o.Logger.With().Int("events", len(p.items)).Str("kind", string(first.env.Data.Kind)).
		Str("first_event_id", first.env.ID).Str("last_event_id", last.env.ID).
		Uint64("first_stream_seq", first.seq).Uint64("last_stream_seq", last.seq).Logger()
}
