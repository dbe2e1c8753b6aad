package poller

import (
	"context"
	"sync"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// planStats picks the active tasks whose stats call this cycle makes, into
// tg.stats: with Options.StatsEvery, those whose last call is at least
// that old (else every one), the one asked longest ago first (never asked
// first), at most left of them; left < 0: no bound. A task is active by its
// list row of this cycle, else by its stored snapshot.
func (p *Poller) planStats(tg *targets, ids []string, left int, now time.Time) {
	if p.o.Stats == nil || left == 0 {
		return
	}
	var due []candidate
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] || !p.activeIn(id, tg.listed) {
			continue
		}
		seen[id] = true
		asked := p.prog.asked(id)
		if p.o.StatsEvery > 0 && !asked.IsZero() && now.Sub(asked) < p.o.StatsEvery {
			continue
		}
		due = append(due, candidate{id: id, last: stampOf(asked)})
	}
	if left < 0 {
		left = len(due)
	}
	tg.stats = pick(due, left)
	_, tg.statsBy = p.budget(now)
}

// statsLeft is what the budget leaves for stats calls once the list pages
// and tg.fetch are paid for: -1 without a budget (no rate limit or
// interval known).
func (p *Poller) statsLeft(tg *targets, now time.Time) int {
	budget, _ := p.budget(now)
	if budget <= 0 {
		return -1
	}
	pages := 0
	if tg.listed != nil {
		pages = listPages(len(tg.listed))
	}
	return max(0, budget-pages-len(tg.fetch))
}

// activeIn reports whether a task is in an active status: by its list row
// when listed holds one, else by its stored snapshot.
func (p *Poller) activeIn(id string, listed map[string]listing) bool {
	if l, ok := listed[id]; ok {
		return dcs.Normalize(l.status).Phase() == dcs.PhaseActive
	}
	return p.activeStored(id)
}

// activeStored reports whether the stored snapshot of a task shows it in
// an active status.
func (p *Poller) activeStored(id string) bool {
	ent, _ := p.st.Get(p.o.ProjectID, id)
	return ent.Task != nil && !ent.Removed && ent.Task.NormStatus().Phase() == dcs.PhaseActive
}

// fetchStats makes the stats calls of tg.stats with bounded concurrency,
// after the detail calls; those not started by tg.statsBy wait for the
// next cycle, so that they never make a cycle run into the next tick. An answer becomes the task's progress; a failure is logged
// with its class and leaves the last progress as it was. It never makes a
// task or the API blind: the status is seen by the list and detail calls,
// and progress is what they carry beyond it. An auth failure or throttling
// stops the calls and is returned, so that the cycle pauses the API.
func (c *cycle) fetchStats(ctx context.Context, tg targets) error {
	p := c.p
	if len(tg.stats) == 0 {
		return nil
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		stop     error // an auth failure or throttling
		wide     error // the first API-wide failure
		apiFails int
		wg       sync.WaitGroup
	)
	next := make(chan string)
	for w := 0; w < min(p.o.Concurrency, len(tg.stats)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				if cctx.Err() != nil || (!tg.statsBy.IsZero() && p.o.Now().After(tg.statsBy)) {
					continue
				}
				st, info, err := p.o.Stats.Stats(cctx, id)
				if err != nil && cctx.Err() != nil {
					continue // cut short: not a failure of the task
				}
				if err == nil {
					at := p.o.Now()
					p.prog.answered(id, st, at, c.now)
					c.statsDone(1, 0)
					p.o.OnProgress(id, c.nameOf(id), st, at)
					continue
				}
				p.prog.failed(id, c.now)
				c.statsDone(0, 1)
				mu.Lock()
				if apiWide(err) {
					apiFails++
					if apiFails == 1 {
						wide = err
						p.logCallErr(err, id, info, "task stats")
					}
					if stopsCycle(err) && stop == nil {
						stop = err
						cancel()
					}
				} else {
					p.logCallErr(err, id, info, "task stats")
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range tg.stats {
		next <- id
	}
	close(next)
	wg.Wait()
	if apiFails > 1 {
		p.o.Logger.Warn().Int("calls", apiFails).Str("class", dcs.Class(wide)).Msg("stats calls failed alike")
	}
	return stop
}

func (c *cycle) statsDone(ok, failed int) {
	c.mu.Lock()
	c.stats.StatsCalls += ok
	c.stats.StatsFailed += failed
	c.mu.Unlock()
}

// nameOf is a task's name: its list row's, else its snapshot's.
func (c *cycle) nameOf(id string) string {
	if l, ok := c.listed[id]; ok && l.name != "" {
		return l.name
	}
	if ent, _ := c.p.st.Get(c.p.o.ProjectID, id); ent.Task != nil {
		return ent.Task.Name
	}
	return ""
}
