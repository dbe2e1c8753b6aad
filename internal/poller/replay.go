package poller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
)

// How a cycle meets a store that does not take its writes (journal.go):
// from the first write that fails for a reason of the store's (not a fence,
// not a compare-and-swap conflict), or from its start when the connection
// is known down (Options.Offline), the cycle is held: its observations go
// to the journal, compared with the task's last journaled one, and nothing
// else touches the store (the records read again, discoveries, removals and
// blindness are left for a later cycle, as they are detected again). The
// next cycle first settles what the outboxes owe, then replays the journal
// in order, each observation diffed against the stored record and
// committed like a fresh one, its events marked delayed with their
// observation time; only then does it diff anything new.

// errOffline: Options.Offline says the connection is down.
var errOffline = errors.New("NATS connection down")

// hold makes the rest of the cycle journal its observations; the first
// call says why, once.
func (c *cycle) hold(cause error) {
	if c.held.CompareAndSwap(false, true) {
		c.addErr(fmt.Errorf("snapshot store unreachable, observations journaled until it answers: %w", cause))
	}
}

// resume readies the cycle: outboxes settled, then the journal replayed;
// a store that does not answer holds the cycle instead of stopping it.
func (c *cycle) resume(ctx context.Context) error {
	if c.p.o.Offline != nil && c.p.o.Offline() {
		c.hold(errOffline)
		return nil
	}
	err := c.box.settleAll(ctx)
	if err == nil {
		err = c.replay(ctx)
	}
	if !uncommitted(storeFailure(ctx, err)) {
		return err
	}
	c.hold(err)
	return nil
}

// replay commits the journal's observations in order, each diffed against
// the stored record, its events marked delayed; it stops at the first
// failure, the rest kept for the next cycle.
func (c *cycle) replay(ctx context.Context) error {
	j := c.p.j
	if j.pending() == 0 {
		return nil
	}
	c.replaying = true
	defer func() { c.replaying = false }()
	n := 0
	for {
		ob, ok := j.next()
		if !ok {
			break
		}
		ent, err := c.load(ctx, ob.Task.ID)
		if err == nil {
			err = c.record(ctx, ob.At, ob.Task, ent, ob.Gap)
		}
		if err != nil {
			return fmt.Errorf("journal replay stopped after %d observation(s), at %s's of %s: %w",
				n, displayID(ob.Task.ID), ob.At.UTC().Format(time.RFC3339Nano), err)
		}
		j.replayed()
		n++
	}
	for task, k := range j.finish() {
		c.p.jgap.Store(task, true)
		c.p.o.Logger.Warn().Str("task_id", task).Int("dropped", k).
			Msg("journal had no room for some observations of this task: its next change is marked may_have_skipped")
	}
	c.p.o.Logger.Info().Int("observations", n).Msg("journal replayed: changes seen while the store was unreachable are published, marked delayed")
	return nil
}

// keepOn journals the observation t (as answered: row and nulls complete
// it) when err says the store did not take it; other errors pass.
func (c *cycle) keepOn(ctx context.Context, err error, at time.Time, t dcs.Task, row *dcs.Task, nulls []string) error {
	if err = storeFailure(ctx, err); !uncommitted(err) {
		return err
	}
	c.hold(err)
	return c.keep(at, t, row, nulls)
}

// keep journals the observation t when it differs from the task's last
// journaled one, else from its cached record. An observation the full
// journal cannot keep is errHeld: the task is not taken for seen, so a
// later cycle reads it again.
func (c *cycle) keep(at time.Time, t dcs.Task, row *dcs.Task, nulls []string) error {
	ent, _ := c.p.st.Get(c.p.o.ProjectID, t.ID)
	prev := c.p.j.latest(t.ID)
	first := prev == nil
	if first {
		prev = ent.Task
	}
	c.prepare(&t, prev, row, nulls)
	same := diff.Equal(prev, &t)
	if first {
		same = same && ent.Blind == nil && !ent.Removed && !ent.RowOnly
	}
	if !same {
		gap := ""
		if first {
			gap = c.gap(t.ID, ent)
		}
		if !c.p.j.add(observation{At: at, Task: t, Gap: gap}) {
			return fmt.Errorf("%s: observation not journaled: %w", displayID(t.ID), errHeld)
		}
	}
	c.p.observe(t.ID)
	return nil
}
