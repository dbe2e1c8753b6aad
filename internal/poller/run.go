package poller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/state"
)

// Run polls once at once and then on every tick of the cron spec until ctx
// is done. A tick that comes while a cycle still runs is skipped.
func (p *Poller) Run(ctx context.Context, spec string) error {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return fmt.Errorf("poller: schedule %q: %w", spec, err)
	}
	p.sched = sched
	c := cron.New()
	c.Schedule(sched, cron.FuncJob(func() { p.tick(ctx) }))
	c.Start()
	p.tick(ctx) // at once; ticks that come while it runs are skipped
	<-ctx.Done()
	<-c.Stop().Done()
	return nil
}

func (p *Poller) tick(ctx context.Context) {
	if !p.running.TryLock() {
		p.o.Logger.Warn().Msg("previous cycle still running: tick skipped")
		return
	}
	defer p.running.Unlock()
	if ctx.Err() != nil {
		return
	}
	st, err := p.Cycle(ctx)
	p.o.Cycled(st, err)
	ev := p.o.Logger.Info()
	if err != nil {
		ev = p.o.Logger.Warn().Err(err)
	}
	ev.Int("tasks", st.Tasks).Int("rows", st.Rows).Int("fetched", st.Fetched).Int("failed", st.Failed).
		Int("stats", st.StatsCalls).Int("stats_failed", st.StatsFailed).Int("logs", st.Logs).
		Int("events", st.Events).Int("writes", st.Writes).Bool("paused", st.Skipped).
		Str("took", st.Duration.Round(time.Millisecond).String()).Msg("cycle") // "1.234s": a number alone has no unit
}

// Cycle runs one watch cycle. It returns an error when the API could not be
// seen or an event could not be published or stored; per-task problems are
// reported as events and counted in Stats.
//
// Each task's events are published and its snapshot stored as soon as its
// own answer is in (the list row of a task seen for the first time, then
// each detail call), so a large fleet is covered early in the cycle and
// memory holds what is in flight, not the cycle. The one exception is a
// cycle that starts with the API blind: whether it recovers depends on
// every call of the cycle, and its watch_recovered comes before the
// changes seen with it, so that cycle collects its answers first.
func (p *Poller) Cycle(ctx context.Context) (st Stats, err error) {
	start := p.o.Now()
	if start.Before(p.pauseUntil) {
		st.Skipped = true
		return st, nil
	}
	c := &cycle{p: p, box: p.box, now: start, stats: &st}
	if err := c.box.fence(ctx); err != nil {
		return st, err // another replica polls this project now
	}
	events, writes, logs := p.box.events.Load(), p.box.writes.Load(), p.attn.logCalls.Load()
	defer func() {
		st.Logs = int(p.attn.logCalls.Load() - logs)
		st.Events = int(p.box.events.Load() - events)
		st.Writes = int(p.box.writes.Load() - writes)
	}()
	// What JetStream may still lack is published first: until it is, the
	// stream could disagree with the snapshots, and NATS is away anyway.
	if err := c.resume(ctx); err != nil {
		st.Duration = p.o.Now().Sub(start)
		return st, err
	}
	apiEnt, _ := p.st.Get(p.o.ProjectID, state.API)
	// An unusable list answer blinds nothing: every known task is read
	// by its own detail call meanwhile.
	c.apiWasBlind = apiEnt.Blind != nil && apiEnt.Blind.Class != dcs.Class(dcs.ErrBadResponse)
	c.batch = apiEnt.Blind != nil

	tg, listErr := p.targets(ctx, start)
	if listErr != nil {
		st.Failed++
		p.logCallErr(listErr, "", dcs.Info{}, "list tasks")
	}
	st.Tasks, st.Refreshes, st.Budget = tg.watched, tg.refreshes, tg.budget
	c.listed = tg.listed
	c.apiErr = listErr
	c.seen = listErr == nil && p.o.Discover
	if !c.batch {
		if listErr != nil {
			c.apiDown(ctx)
		}
		c.fromRows(ctx, &tg)
	}
	var results []result
	if listErr == nil || !stopsCycle(listErr) {
		results = c.fetch(ctx, tg)
	}
	st.Fetched = int(c.fetched.Load())
	if st.Fetched > 0 {
		c.seen = true
	}
	if c.apiFailures > 1 {
		p.o.Logger.Warn().Int("calls", c.apiFailures).Str("class", dcs.Class(c.apiErr)).
			Msg("detail calls failed alike: the DCS API cannot be seen")
	}
	p.updatePause(c.apiErr)

	if c.batch {
		c.addErr(c.api(ctx, p.o.Now(), c.apiErr, c.seen))
		c.fromRows(ctx, &tg)
		for _, r := range results {
			if ctx.Err() != nil {
				break
			}
			c.apply(ctx, r)
		}
	}
	if c.apiErr == nil || !stopsCycle(c.apiErr) {
		tg.stats = spendLogs(tg.stats, p.statsLeft(&tg, start), int(p.attn.logCalls.Load()-logs))
		if stop := c.fetchStats(ctx, tg); stop != nil {
			p.updatePause(stop)
		}
	}
	p.prog.keep(p.activeStored)
	c.attend(ctx)
	if tg.listed != nil && p.o.Detail != DetailEveryCycle {
		p.reportStaleness(&st, start, tg)
	}
	if c.apiErr != nil {
		c.addErr(fmt.Errorf("dcs api: %w", c.apiErr))
	}
	st.Duration = p.o.Now().Sub(start)
	return st, errors.Join(c.errs...)
}

// reportStaleness sets OldestRefresh and says how stale the fleet's
// detail reads are: at debug every cycle, as a warning once the oldest is
// older than twice RefreshActive (a fleet too large for the budget).
func (p *Poller) reportStaleness(st *Stats, now time.Time, tg targets) {
	st.OldestRefresh = p.plan.oldest(now)
	ev := p.o.Logger.Debug()
	if p.o.RefreshActive > 0 && st.OldestRefresh > 2*p.o.RefreshActive {
		ev = p.o.Logger.Warn()
	}
	ev.Int("listed", len(tg.listed)).Int("budget", tg.budget).Int("calls", len(tg.fetch)).
		Int("refreshes", tg.refreshes).Dur("oldest_refresh", st.OldestRefresh).Msg("detail refreshes")
}
