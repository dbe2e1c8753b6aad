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
		if err := c.replayOne(ctx, ob); err != nil {
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

// HandOver commits what the journal holds after the project's lease went
// to another replica while this one could not reach the store (in a
// cluster, its NATS node went away while the others stayed). A task's
// observations are committed only while its stored record is still the
// one this replica last knew, the new leader having written nothing of it
// since, and with compare-and-swap on that record's revision: the new
// leader's next write of the task then loses on the revision and settles
// what the record owes, as for any writer that has just lost its lease. A
// task the new leader wrote meanwhile keeps its record; its observations
// are dropped, counted in one log line. The cycles must have stopped.
func (p *Poller) HandOver(ctx context.Context) (committed, dropped int) {
	if p.j.pending() == 0 {
		return 0, 0
	}
	p.box.handingOver.Store(true)
	defer p.box.handingOver.Store(false)
	c := &cycle{p: p, box: p.box, now: p.o.Now(), stats: &Stats{}, replaying: true}
	checked, gone := map[string]bool{}, map[string]bool{}
	for {
		ob, ok := p.j.next()
		if !ok {
			break
		}
		id := ob.Task.ID
		if !checked[id] {
			checked[id] = true
			known, _ := p.st.Get(p.o.ProjectID, id)
			now, err := p.st.Refresh(ctx, p.o.ProjectID, id)
			gone[id] = err != nil || now.Revision != known.Revision
		}
		if !gone[id] {
			if err := c.replayOne(ctx, ob); err != nil {
				p.o.Logger.Warn().Err(err).Str("task_id", id).Msg("journal hand-over: observation not committed; the new leader's record stands")
				gone[id] = true
			}
		}
		if gone[id] {
			dropped++
		} else {
			committed++
		}
		p.j.replayed()
	}
	p.j.finish()
	p.o.Logger.Warn().Int("committed", committed).Int("dropped", dropped).
		Msg("journal handed over after the lease moved: observations of tasks the new leader had not written are published, marked delayed; the rest dropped")
	return committed, dropped
}

// replayOne commits one journaled observation against the stored record.
func (c *cycle) replayOne(ctx context.Context, ob observation) error {
	ent, err := c.load(ctx, ob.Task.ID)
	if err != nil {
		return err
	}
	return c.record(ctx, ob.At, ob.Task, ent, ob.Gap)
}
