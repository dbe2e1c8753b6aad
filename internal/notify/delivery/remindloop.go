package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/retry"
)

// remindWhileHeld posts the lane's due reminders until ctx ends (Run's,
// or the delivery lease lost): only the lease holder reminds, so replicas
// never both do. It looks every min(RemindEvery/4, 1m).
func (n *lane) remindWhileHeld(ctx context.Context, kv jetstream.KeyValue) {
	tick := min(n.o.RemindEvery/4, time.Minute)
	for {
		n.remindDue(ctx, kv, tick)
		if retry.SleepUntil(ctx, time.Now().Add(tick)) != nil {
			return
		}
	}
}

// remindDue goes through the lane's reminder records once and reminds
// each one due.
func (n *lane) remindDue(ctx context.Context, kv jetstream.KeyValue, tick time.Duration) {
	keys, err := n.openIncidents(ctx, kv)
	if err != nil {
		n.remindFailed(ctx, err)
		return
	}
	for key := range keys {
		if ctx.Err() != nil {
			return
		}
		if err := n.remindOne(ctx, kv, key, tick); err != nil {
			n.remindFailed(ctx, err)
		}
	}
}

func (n *lane) remindFailed(ctx context.Context, err error) {
	if ctx.Err() == nil {
		n.o.Logger.Warn().Err(err).Msg("slack: reminders: trying again at the next look")
	}
}

// remindOne reminds the incident under key if it is due: not while it is
// silenced (its next reminder is pushed back), never again once it is
// acknowledged (the record is deleted). The next reminder is claimed
// first, by a compare-and-swap on the record's revision, so that a
// replica that read the same record posts nothing; it is due RemindEvery
// from now, so that after a restart or an outage one reminder comes, not
// a burst. A post Slack did not take is tried again at the next look.
func (n *lane) remindOne(ctx context.Context, kv jetstream.KeyValue, key string, tick time.Duration) error {
	rec, rev, err := readRecord[reminder](ctx, kv, "reminder", key)
	if err != nil || rec == nil {
		return err
	}
	return n.remindRecord(ctx, kv, key, rec, rev, tick)
}

// remindRecord is remindOne of the record rec read at revision rev.
func (n *lane) remindRecord(ctx context.Context, kv jetstream.KeyValue, key string, rec *reminder, rev uint64, tick time.Duration) error {
	now := n.o.Now()
	if now.Before(rec.NextAt) {
		return nil
	}
	log := n.o.Logger.With().Str("task_id", rec.Data.TaskID).Str("event_id", rec.EventID).Logger()
	if n.o.Silences != nil {
		if id, ok := n.o.Silences.Silenced(rec.Data, now); ok {
			log.Debug().Str("silence_id", id).Msg("slack: reminder held: the task is silenced")
			_, err := n.advance(ctx, kv, key, rec, rev, now.Add(n.o.RemindEvery))
			return ignoreLost(err)
		}
	}
	if n.o.Acks != nil {
		incident, err := n.dest.incident(ctx, rec.Data)
		if err != nil {
			return err
		}
		if incident != "" {
			ack, err := n.o.Acks.Acknowledged(ctx, rec.Data.ProjectID, rec.Data.TaskID, incident)
			if err != nil {
				return err
			}
			if ack != nil {
				log.Info().Str("by", ack.By).Msg("slack: incident acknowledged; its reminders stop")
				return ignoreLost(kv.Delete(ctx, key, jetstream.LastRevision(rev)))
			}
		}
	}
	rev, err := n.advance(ctx, kv, key, rec, rev, now.Add(n.o.RemindEvery))
	if err != nil {
		return ignoreLost(err) // lost: the replica that won reminds
	}
	if n.pace.wait(ctx) != nil {
		return nil
	}
	sctx, cancel := sendContext(ctx, n.o.SendTimeout)
	err = n.dest.remind(sctx, rec, now.Sub(rec.OpenedAt))
	cancel()
	n.pace.answered()
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		n.pace.holdOff(max(rl.RetryAfter, time.Second))
	}
	if err != nil {
		log.Warn().Err(err).Msg("slack: reminder not posted; trying again at the next look")
		_, err = n.advance(ctx, kv, key, rec, rev, now.Add(tick))
		return ignoreLost(err)
	}
	n.reminded.Add(1)
	log.Info().Dur("open_for", now.Sub(rec.OpenedAt)).Msg("slack: incident reminded")
	return nil
}

// advance sets the record's next reminder by a compare-and-swap on rev
// and returns the new revision; errLost says the record changed
// meanwhile (another replica reminded, the incident closed or moved on).
func (n *lane) advance(ctx context.Context, kv jetstream.KeyValue, key string, rec *reminder, rev uint64, next time.Time) (uint64, error) {
	rec.NextAt = next.UTC()
	rev, err := writeRecord(ctx, kv, "reminder", key, rec, rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return 0, errLost
	}
	return rev, err
}

// errLost says another writer changed a reminder record first.
var errLost = errors.New("reminder record changed meanwhile")

func ignoreLost(err error) error {
	if errors.Is(err, errLost) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}
