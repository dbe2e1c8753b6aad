package poller

import (
	"context"
	"sync"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
)

// fromRows commits what the list rows alone tell, with bounded
// concurrency, before any detail call of the cycle: the first snapshot of
// each task in tg.rows and the status change of each task in tg.moved. It
// returns when all are done, so that no detail answer of the cycle meets
// a task before its row snapshot. Each row is let go once told (tg.rows
// and tg.moved are left nil): nothing reads it after, and a cold start's
// rows go as they become snapshots.
func (c *cycle) fromRows(ctx context.Context, tg *targets) {
	type job struct {
		row  *dcs.Task
		move bool
	}
	n := len(tg.rows) + len(tg.moved)
	next := make(chan job)
	var wg sync.WaitGroup
	for range min(c.p.o.Concurrency, n) {
		wg.Go(func() {
			for j := range next {
				switch {
				case ctx.Err() != nil:
				case j.move:
					c.addErr(c.moveFromRow(ctx, *j.row))
				default:
					c.addErr(c.discover(ctx, j.row))
				}
			}
		})
	}
	for i, r := range tg.rows {
		tg.rows[i] = nil
		next <- job{row: r}
	}
	for i, r := range tg.moved {
		tg.moved[i] = nil
		next <- job{row: r, move: true}
	}
	close(next)
	wg.Wait()
	tg.rows, tg.moved = nil, nil
}

// discover makes a list row the first snapshot of a task never seen
// before: its status is known at once, the discovered event goes out
// with what the row shows, and the record is marked RowOnly until a
// detail call completes it. Only the rows the cycle's budget has no
// detail call for are discovered so (targets): the others are discovered
// from their detail answer, so that a row of an id the API does not know
// makes no event.
//
// The record takes the row itself: nothing else reads it (fromRows has
// let it go).
func (c *cycle) discover(ctx context.Context, row *dcs.Task) error {
	ent, err := c.load(ctx, row.ID)
	if err != nil {
		return err
	}
	if ent.Task != nil {
		return nil // another replica took it first
	}
	rec := ent.Record
	rec.Task = row
	rec.RowOnly = true
	rec.Removed = false
	rec.StatusSince = c.now
	if err := c.commit(ctx, c.now, row.ID, ent, rec, diff.Diff(nil, row), ""); err != nil {
		return err
	}
	c.p.observe(row.ID)
	c.mu.Lock()
	c.stats.Rows++
	c.mu.Unlock()
	return nil
}

// moveFromRow reports a status change a list row shows at once, with the
// row's failure reason, instead of waiting for the task's detail call: a
// burst of failures is told in the cycle that lists it, not at the rate
// limit's pace. The snapshot becomes the last one with the row's fields
// laid over it, marked RowAhead (RowOnly stays for a snapshot that was its
// row alone); the detail call that follows is diffed against it, so it
// does not tell the status change again but does tell what else moved.
//
// While the store does not take writes, the snapshot the row makes is
// journaled like a detail answer (keepOn), so a failure shown by a row
// and gone before the store returns is still told, delayed.
func (c *cycle) moveFromRow(ctx context.Context, row dcs.Task) error {
	if c.held.Load() {
		return c.keepRow(row)
	}
	ent, err := c.load(ctx, row.ID)
	if err != nil {
		if uncommitted(storeFailure(ctx, err)) {
			c.hold(err)
			return c.keepRow(row)
		}
		return err
	}
	if !movedInRow(&row, ent.Task, ent.Removed, ent.Blind != nil) {
		return nil // another replica told it first
	}
	t := rowBase(&row, ent.Task)
	rec := ent.Record
	rec.Task = t
	rec.RowAhead = !ent.RowOnly
	rec.StatusSince = c.now
	if err := c.commit(ctx, c.now, row.ID, ent, rec, diff.Diff(ent.Task, t), c.gap(row.ID, ent)); err != nil {
		return c.keepOn(ctx, err, c.now, *t, &row, nil)
	}
	c.p.observe(row.ID)
	c.mu.Lock()
	c.stats.Moved++
	c.mu.Unlock()
	return nil
}

// keepRow journals the snapshot a row's status change makes of the task's
// last known one (journaled, else stored); a task never seen is left to
// its detail call.
func (c *cycle) keepRow(row dcs.Task) error {
	prev := c.p.j.latest(row.ID)
	if prev == nil {
		ent, _ := c.p.st.Get(c.p.o.ProjectID, row.ID)
		prev = ent.Task
	}
	if prev == nil {
		return nil
	}
	return c.keep(c.now, *rowBase(&row, prev), &row, nil)
}
