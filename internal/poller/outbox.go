package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/state"
)

// load returns a task's entry (task state.API: the API's) once its outbox
// is empty: a task is never diffed while the stream may lack an event of
// its last change.
func (c *cycle) load(ctx context.Context, task string) (state.Entry, error) {
	ent, _ := c.p.st.Get(c.p.o.ProjectID, task)
	stale := false
	if c.held.Load() {
		return ent, errHeld
	}
	if c.staleN.Load() > 0 {
		c.mu.Lock()
		stale = c.p.stale[task]
		c.mu.Unlock()
	}
	if stale {
		var err error
		if ent, err = c.p.st.Refresh(ctx, c.p.o.ProjectID, task); err != nil {
			return ent, fmt.Errorf("%s: read the snapshot again after a failed write: %w", displayID(task), err)
		}
		c.mu.Lock()
		delete(c.p.stale, task)
		c.staleN.Store(int64(len(c.p.stale)))
		c.mu.Unlock()
	}
	if len(ent.Pending) == 0 {
		return ent, nil
	}
	return c.settle(ctx, task, ent)
}

// settle publishes the events ent still owes, in order, and clears them.
// A publish that JetStream answers as a duplicate was stored before (its
// ack was lost): that counts as stored.
func (c *cycle) settle(ctx context.Context, task string, ent state.Entry) (state.Entry, error) {
	for _, o := range ent.Pending {
		var env notify.Envelope
		if err := json.Unmarshal(o.Body, &env); err != nil {
			// Our own JSON: only a corrupted record gets here. Dropping the
			// event is the only way forward; say so loudly.
			c.p.o.Logger.Error().Err(err).Str("task_id", task).Str("event_id", o.ID).Msg("outbox event unreadable: dropped")
			continue
		}
		env.NATSSubject = o.Subject
		if err := c.fence(ctx); err != nil {
			return ent, fmt.Errorf("%s: events not published: %w", displayID(task), err)
		}
		dup, err := c.p.pub.Send(ctx, env)
		c.mu.Lock()
		if err != nil {
			c.p.unsettled[task] = true
			c.p.tried[env.ID] = true
			c.mu.Unlock()
			return ent, fmt.Errorf("%s: %d event(s) owed to the stream, snapshot held until they are stored: %w", displayID(task), len(ent.Pending), err)
		}
		mine := !dup || c.p.tried[env.ID]
		delete(c.p.tried, env.ID)
		if mine {
			c.stats.Events++
			c.p.o.Published(env) // under mu: the hook is never called concurrently
		}
		c.mu.Unlock()
		if !mine {
			continue // another replica published it
		}
		c.p.o.Logger.Info().Str("event_id", env.ID).Str("task_id", env.Data.TaskID).
			Str("kind", string(env.Data.Kind)).Str("subject", env.NATSSubject).Msg("event published")
	}
	rec := ent.Record
	rec.Pending = nil
	if err := c.put(ctx, task, rec); err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if cur, _ := c.p.st.Get(c.p.o.ProjectID, task); errors.Is(err, state.ErrConflict) && len(cur.Pending) == 0 {
			// Another replica settled it first.
			delete(c.p.unsettled, task)
			return cur, nil
		}
		c.p.unsettled[task] = true
		return ent, err
	}
	c.mu.Lock()
	delete(c.p.unsettled, task)
	c.mu.Unlock()
	ent, _ = c.p.st.Get(c.p.o.ProjectID, task)
	return ent, nil
}

// settleAll settles every record that still owes events: after a restart
// (the first cycle looks at every record) and after a failed publish.
func (c *cycle) settleAll(ctx context.Context) error {
	if !c.p.scanned {
		for _, e := range c.p.st.Tasks(c.p.o.ProjectID) {
			if len(e.Pending) > 0 {
				c.p.unsettled[e.Task.ID] = true
			}
		}
		if e, _ := c.p.st.Get(c.p.o.ProjectID, state.API); len(e.Pending) > 0 {
			c.p.unsettled[state.API] = true
		}
		c.p.scanned = true
	}
	for _, task := range sortedKeys(c.p.unsettled) {
		if _, err := c.load(ctx, task); err != nil {
			return err // NATS is away: the rest would fail alike
		}
		delete(c.p.unsettled, task)
	}
	return nil
}

// commit writes rec with the events it owes (their ids stamped with the
// project and the revision they were diffed against), then publishes them
// and clears them from the record. at is when the answer that shows the
// change came: in a long cycle (NATS slow or away) that can be well after
// the cycle's start, and the events say when the change was seen.
func (c *cycle) commit(ctx context.Context, at time.Time, task string, prev state.Entry, rec state.Record, events []diff.Event, gap string) error {
	rec.WrittenAt = at
	rec.Pending = nil
	for _, ev := range events {
		env := c.p.pub.Envelope(ev.At(c.p.o.ProjectID, prev.Revision), notify.Meta{
			ProjectID:       c.p.o.ProjectID,
			ObservedAt:      at,
			PrevStatusSince: prev.StatusSince,
			Gap:             gap,
			Delayed:         c.replaying,
		})
		body, err := json.Marshal(env)
		if err != nil {
			return fmt.Errorf("%s: encode event %s: %w", displayID(task), env.ID, err)
		}
		rec.Pending = append(rec.Pending, state.Outgoing{ID: env.ID, Subject: env.NATSSubject, Body: body})
	}
	if err := c.put(ctx, task, rec); err != nil {
		return storeFailure(ctx, err)
	}
	if len(rec.Pending) == 0 {
		return nil
	}
	ent, _ := c.p.st.Get(c.p.o.ProjectID, task)
	_, err := c.settle(ctx, task, ent)
	return err
}

// fence asks Options.Fence, when set, whether this replica still leads.
func (c *cycle) fence(ctx context.Context) error {
	if c.p.o.Fence == nil {
		return nil
	}
	if err := c.p.o.Fence(ctx); err != nil {
		return fencedError{err}
	}
	return nil
}

func (c *cycle) put(ctx context.Context, task string, rec state.Record) error {
	if err := c.fence(ctx); err != nil {
		return fmt.Errorf("snapshot of %s not written: %w", displayID(task), err)
	}
	if err := c.p.st.Put(ctx, c.p.o.ProjectID, task, rec); err != nil {
		c.mu.Lock()
		if !errors.Is(err, state.ErrConflict) {
			// Stored or not? Read it again before the task is used, and
			// settle what it may owe at the next cycle's start.
			c.p.stale[task] = true
			c.p.unsettled[task] = true
			c.staleN.Store(int64(len(c.p.stale)))
		} else if cur, _ := c.p.st.Get(c.p.o.ProjectID, task); len(cur.Pending) > 0 {
			// Another writer (a replica that has just lost the lease)
			// stored a change with the events it owes and did not publish
			// them: this replica settles them at the next cycle's start,
			// whether or not the task changes again.
			c.p.unsettled[task] = true
		}
		c.mu.Unlock()
		return fmt.Errorf("snapshot of %s kept, the change will be detected again: %w", displayID(task), err)
	}
	c.mu.Lock()
	c.stats.Writes++
	c.mu.Unlock()
	return nil
}

// displayID names a record in messages.
func displayID(task string) string {
	if task == state.API {
		return "the API"
	}
	return "task " + task
}
