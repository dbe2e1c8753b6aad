package poller

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// result is the outcome of one detail call.
type result struct {
	id      string
	task    dcs.Task
	info    dcs.Info
	err     error
	skipped bool      // not called: the cycle was cut short
	at      time.Time // when the answer came
}

// fetch calls Show for every id of tg.fetch with bounded concurrency and
// hands each answer to the cycle as it comes (or, when the cycle collects
// them, returns them in order). An auth failure or throttling cuts the
// cycle short: more calls would only lock the AK or deepen the throttling.
// Refreshes not started by tg.deadline are left for the next cycle.
func (c *cycle) fetch(ctx context.Context, tg targets) []result {
	p := c.p
	ids := tg.fetch
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var results []result
	if c.batch {
		results = make([]result, len(ids))
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(p.o.Concurrency, len(ids)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				var r result
				if i >= tg.refreshFrom && !tg.deadline.IsZero() && p.o.Now().After(tg.deadline) {
					r = result{id: ids[i], skipped: true}
				} else {
					r = c.fetchOne(cctx, ids[i])
				}
				if r.err != nil && stopsCycle(r.err) {
					cancel()
				}
				c.tally(r)
				if c.batch {
					results[i] = r
				} else if ctx.Err() == nil {
					c.apply(ctx, r)
				}
			}
		}()
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

func (c *cycle) fetchOne(ctx context.Context, id string) result {
	p := c.p
	if ctx.Err() != nil {
		return result{id: id, skipped: true}
	}
	t, info, err := p.f.Show(ctx, id)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return result{id: id, skipped: true}
	}
	if err == nil && t.ID == "" {
		t.ID = id
	}
	return result{id: id, task: t, info: info, err: err, at: p.o.Now()}
}

// tally counts a detail call's outcome and logs its failure; an outage
// fails every call the same way, so only its first failure is logged in
// full and the rest are counted.
func (c *cycle) tally(r result) {
	switch {
	case r.skipped:
		return
	case r.err == nil:
		// The common case, on every worker: no lock.
		c.fetched.Add(1)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case errors.Is(r.err, dcs.ErrGone):
		// Not a failure: the task is reported removed, once.
		c.p.o.Logger.Debug().Str("task_id", r.id).Msg("task not found (DCS.4133)")
	case apiWide(r.err):
		c.stats.Failed++
		c.apiFailures++
		if c.apiFailures == 1 {
			c.p.logCallErr(r.err, r.id, r.info, "show task")
		}
		if c.apiErr == nil || stopsCycle(r.err) {
			c.apiErr = r.err
		}
	default:
		c.stats.Failed++
		c.p.logCallErr(r.err, r.id, r.info, "show task")
	}
}

// apply commits what one detail call says about its task.
func (c *cycle) apply(ctx context.Context, r result) {
	switch {
	case r.skipped:
	case r.err == nil:
		l, listedNow := c.listed[r.id]
		err := c.observe(ctx, r.at, r.task, l.row, r.info.Nulls)
		switch {
		case err != nil:
			c.addErr(err)
		case listedNow && l.row != nil && c.p.o.Detail != DetailEveryCycle:
			c.mu.Lock()
			c.p.plan.done(*l.row, r.at)
			c.mu.Unlock()
		case !listedNow && c.listed != nil:
			c.mu.Lock()
			c.p.absent[r.id] = r.at // missing from the list, yet it answers
			c.mu.Unlock()
		}
	case errors.Is(r.err, dcs.ErrGone):
		c.addErr(c.remove(ctx, r.at, r.id, "the API answers: task not found"))
	case apiWide(r.err):
		if !c.batch {
			c.apiDown(ctx)
		}
	default:
		c.addErr(c.blind(ctx, r.at, r.id, r.err))
	}
}

// apiDown commits the API's blindness as soon as the cycle meets it, once:
// the events of the tasks seen meanwhile are already out.
func (c *cycle) apiDown(ctx context.Context) {
	c.apiMu.Lock()
	defer c.apiMu.Unlock()
	if c.apiReported {
		return
	}
	c.apiReported = true
	c.mu.Lock()
	err := c.apiErr
	c.mu.Unlock()
	c.addErr(c.api(ctx, c.p.o.Now(), err, false))
}

// observe handles a successful detail call; row is the task's list row,
// nil when the list did not show it; nulls are the fields the answer sent
// as null, which keep their previous values.
func (c *cycle) observe(ctx context.Context, at time.Time, t dcs.Task, row *dcs.Task, nulls []string) error {
	if c.held.Load() {
		return c.keep(at, t, row, nulls)
	}
	answer := t
	ent, err := c.load(ctx, t.ID)
	if err == nil {
		c.prepare(&t, ent.Task, row, nulls)
		err = c.record(ctx, at, t, ent, c.gap(t.ID, ent))
	}
	return c.keepOn(ctx, err, at, answer, row, nulls)
}
