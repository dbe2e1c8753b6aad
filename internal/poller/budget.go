package poller

import (
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// budgetShare is the part of the interval the budget fills with calls at
// the rate limit: the rest is for the list's latency, the snapshot writes
// and the publishes, so that a cycle ends before the next tick.
const budgetShare = 0.9

// Interval is the time between cycles DetailAuto's budget is based on:
// Options' Interval, or the spacing of the schedule's next two activations
// from now (0 before Run).
func (p *Poller) Interval() time.Duration { return p.interval(p.o.Now()) }

func (p *Poller) interval(now time.Time) time.Duration {
	iv := p.o.Interval
	if iv <= 0 && p.sched != nil {
		next := p.sched.Next(now)
		iv = p.sched.Next(next).Sub(next)
	}
	return iv
}

// budget is DetailAuto's calls per cycle and the time a cycle starting at
// now should end by; 0 when no interval or rate is known.
func (p *Poller) budget(now time.Time) (int, time.Time) {
	iv := p.interval(now)
	if iv <= 0 || p.o.RateLimit <= 0 {
		return 0, time.Time{}
	}
	share := time.Duration(float64(iv) * budgetShare)
	return max(1, int(p.o.RateLimit*share.Seconds())), now.Add(share)
}

// listPages is what the list call costs for n rows.
func listPages(n int) int { return max(1, (n+dcs.MaxListLimit-1)/dcs.MaxListLimit) }
