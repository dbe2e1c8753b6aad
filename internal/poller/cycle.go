package poller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/state"
)

// cycle applies one cycle's observations to the stored snapshots. Every
// method follows the same order: derive events, publish them (waiting for
// JetStream's ack), and only then write the snapshot, so a crash or a NATS
// outage in between means the next cycle detects the same change again, with
// the same event ids.
type cycle struct {
	p     *Poller
	now   time.Time
	stats *Stats
}

// observe handles a successful detail call; nulls are the fields the
// answer sent as null, which keep their previous values.
func (c *cycle) observe(ctx context.Context, t dcs.Task, nulls []string) error {
	key := t.ID
	ent, _ := c.p.st.Get(c.p.o.ProjectID, key)
	prev := ent.Task
	if ent.Removed {
		prev = nil // a task that comes back is discovered anew
	}
	if len(nulls) > 0 {
		t.KeepNulls(prev, nulls)
		c.p.o.Logger.Debug().Str("task_id", t.ID).Strs("null_fields", nulls).Msg("null fields keep their previous values")
	}
	var events []diff.Event
	rec := ent.Record
	if ent.Blind != nil {
		events = append(events, diff.Recovered(t.ID, ent.Blind.Class, prev, ent.BlindEpisodes))
		rec.Blind = nil
	}
	events = append(events, diff.Diff(prev, &t)...)
	if len(events) == 0 && diff.Equal(prev, &t) {
		return nil // the common case: one call, one comparison, no write
	}
	if prev == nil || prev.NormStatus() != t.NormStatus() {
		rec.StatusSince = c.now
	}
	rec.Task = &t
	rec.Removed = false
	return c.commit(ctx, key, ent, rec, events)
}

// remove handles a task that the API says is gone.
func (c *cycle) remove(ctx context.Context, id, why string) error {
	key := id
	ent, ok := c.p.st.Get(c.p.o.ProjectID, key)
	if ok && ent.Removed {
		return nil
	}
	rec := ent.Record
	rec.Removed = true
	rec.Blind = nil
	var events []diff.Event
	if ent.Task != nil {
		events = append(events, diff.RemovedEvent(ent.Task))
	} else {
		// Never seen: a configured id that does not exist. Remember it, so
		// the warning is given once, not every cycle.
		c.p.o.Logger.Warn().Str("task_id", id).Msg("configured task does not exist (DCS.4133)")
	}
	c.p.o.Logger.Info().Str("task_id", id).Str("why", why).Msg("task removed")
	return c.commit(ctx, key, ent, rec, events)
}

// unlisted removes every known task of the project that the list no longer
// returns, unless its id is configured explicitly (then its detail call
// decides).
func (c *cycle) unlisted(ctx context.Context, listed map[string]dcs.Task) error {
	configured := map[string]bool{}
	for _, id := range c.p.o.TaskIDs {
		configured[id] = true
	}
	var errs []error
	for _, ent := range c.p.st.Tasks(c.p.o.ProjectID) {
		if ent.Removed || configured[ent.Task.ID] {
			continue
		}
		if _, still := listed[ent.Task.ID]; still {
			continue
		}
		if err := c.remove(ctx, ent.Task.ID, "no longer in the task list"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// blind reports that one task cannot be seen (its answer is unusable); once
// per episode.
func (c *cycle) blind(ctx context.Context, id string, err error) error {
	key := id
	ent, _ := c.p.st.Get(c.p.o.ProjectID, key)
	if ent.Blind != nil {
		return nil
	}
	return c.degrade(ctx, key, id, ent, err)
}

// api tracks the blindness of the API as a whole: it starts with the first
// API-wide failure and ends with the first cycle that saw the API again.
func (c *cycle) api(ctx context.Context, apiErr error, seen bool) error {
	key := state.API
	ent, _ := c.p.st.Get(c.p.o.ProjectID, key)
	switch {
	case apiErr != nil && ent.Blind == nil:
		return c.degrade(ctx, key, "", ent, apiErr)
	case apiErr == nil && ent.Blind != nil && seen:
		rec := ent.Record
		rec.Blind = nil
		ev := diff.Recovered("", ent.Blind.Class, nil, ent.BlindEpisodes)
		return c.commit(ctx, key, ent, rec, []diff.Event{ev})
	}
	return nil
}

func (c *cycle) degrade(ctx context.Context, key, id string, ent state.Entry, err error) error {
	class := dcs.Class(err)
	if class == "" {
		class = "error"
	}
	rec := ent.Record
	rec.BlindEpisodes++
	rec.Blind = &state.Blindness{Class: class, Since: c.now}
	ev := diff.Degraded(id, class, err.Error(), ent.Task, rec.BlindEpisodes)
	return c.commit(ctx, key, ent, rec, []diff.Event{ev})
}

// commit publishes events in order and, when all are acknowledged, writes
// the record.
func (c *cycle) commit(ctx context.Context, key string, prev state.Entry, rec state.Record, events []diff.Event) error {
	for _, ev := range events {
		env := c.p.pub.Envelope(ev, notify.Meta{
			ProjectID:       c.p.o.ProjectID,
			ObservedAt:      c.now,
			PrevStatusSince: prev.StatusSince,
		})
		if err := c.p.pub.Publish(ctx, env); err != nil {
			return fmt.Errorf("snapshot %s kept, the change will be re-detected: %w", key, err)
		}
		c.stats.Events++
		c.p.o.Published(env)
		c.p.o.Logger.Info().Str("event_id", env.ID).Str("task_id", env.Data.TaskID).
			Str("kind", string(ev.Kind)).Str("subject", env.NATSSubject).Msg("event published")
	}
	rec.WrittenAt = c.now
	if err := c.p.st.Put(ctx, c.p.o.ProjectID, key, rec); err != nil {
		return fmt.Errorf("snapshot %s: %w", key, err)
	}
	c.stats.Writes++
	return nil
}
