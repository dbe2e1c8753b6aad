package attention

import (
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
)

// ClearRatio is the hysteresis of the lag conditions: an episode opened by
// a lag clears once the lag is at or below this share of the figure that
// opened it (lag_high: of max_lag; lag_growing: of the lag it reached).
const ClearRatio = 0.8

// Config is what the detector judges by (attention.* in the configuration).
// A zero duration or limit turns its condition off.
type Config struct {
	// StallAfter: full-migration progress unchanged this long is a stall.
	StallAfter time.Duration
	// MaxLag: an incremental lag above it is too high.
	MaxLag int64
	// LagGrowingFor: an incremental lag that grew over a whole window this
	// long (every sample at or above the one before, the last above the
	// first) is growing.
	LagGrowingFor time.Duration
	// MaxInStatus is the allowance per (normalised) status; a status
	// without one may last forever.
	MaxInStatus map[dcs.Status]time.Duration
}

// Window is how far back Detect looks at samples: the caller may drop
// older ones.
func (c Config) Window() time.Duration { return max(c.StallAfter, c.LagGrowingFor) }

// Sample is one progress observation of a task (its stats call).
type Sample struct {
	At      time.Time
	Percent *float64
	Lag     *int64
}

// Task is what the poller knows of a task at Now.
type Task struct {
	Now time.Time
	// Status and StatusSince are its current (normalised) status and when
	// it was first seen in it.
	Status      dcs.Status
	StatusSince time.Time
	// Removed: the task is gone; every open episode clears.
	Removed bool
	// Samples are its recent progress observations, oldest first; those
	// from before StatusSince are not looked at.
	Samples []Sample
	// Open are the episodes its record keeps open; Episodes is the
	// record's episode counter.
	Open     []diff.Attention
	Episodes uint64
}

// Result is what changed: the episodes that opened (numbered from the
// counter) and cleared (ClearedAt, ClearedBy set), the episodes open now
// (to keep with the record) and the counter to keep with them.
type Result struct {
	Opened   []diff.Attention
	Cleared  []diff.Attention
	Open     []diff.Attention
	Episodes uint64
}

// Changed reports whether anything opened or cleared: only then is the
// record written.
func (r Result) Changed() bool { return len(r.Opened)+len(r.Cleared) > 0 }

// Detect judges every condition of t against c: an open episode whose
// condition ended clears, a condition that holds without an open episode
// opens one. Conditions are judged in diff.Conditions' order, so the ids
// and numbers of episodes that open together are stable.
func Detect(c Config, t Task) Result {
	r := Result{Episodes: t.Episodes}
	samples := since(t.Samples, t.StatusSince)
	for _, cond := range diff.Conditions() {
		open, isOpen := find(t.Open, cond)
		if isOpen {
			if by, lag := clears(c, t, samples, open); by != "" {
				at := t.Now
				open.ClearedAt, open.ClearedBy, open.ClearedLag = &at, by, lag
				r.Cleared = append(r.Cleared, open)
				continue
			}
			r.Open = append(r.Open, open)
			continue
		}
		if t.Removed {
			continue
		}
		if a, ok := opens(c, t, samples, cond); ok {
			r.Episodes++
			a.Condition, a.Episode = cond, r.Episodes
			r.Opened = append(r.Opened, a)
			r.Open = append(r.Open, a)
		}
	}
	return r
}

// opens says whether cond holds for t, with the episode's figures.
func opens(c Config, t Task, s []Sample, cond string) (diff.Attention, bool) {
	switch cond {
	case diff.ProgressStalled:
		return stalled(c, t, s)
	case diff.LagHigh:
		return lagHigh(c, t, s)
	case diff.LagGrowing:
		return lagGrowing(c, t, s)
	case diff.StatusTooLong:
		return tooLong(c, t)
	}
	return diff.Attention{}, false
}

// clears says why the open episode a ends, "" while it holds; lag is the
// lag it ended at, for the lag conditions.
func clears(c Config, t Task, s []Sample, a diff.Attention) (by string, lag *int64) {
	switch {
	case t.Removed:
		return diff.ClearedRemoved, nil
	case a.Status != "" && dcs.Status(a.Status) != t.Status && !samePhase(a, t.Status, s):
		return diff.ClearedStatusChanged, nil
	}
	last := lastSample(s)
	switch a.Condition {
	case diff.ProgressStalled:
		if last != nil && last.Percent != nil && a.Percent != nil && *last.Percent != *a.Percent {
			return diff.ClearedRecovered, nil
		}
	case diff.LagHigh, diff.LagGrowing:
		limit := c.MaxLag
		if a.Condition == diff.LagGrowing && a.Lag != nil {
			limit = *a.Lag
		}
		if last != nil && last.Lag != nil && float64(*last.Lag) <= ClearRatio*float64(limit) {
			return diff.ClearedRecovered, last.Lag
		}
	case diff.StatusTooLong:
		if _, ok := c.MaxInStatus[t.Status]; !ok {
			return diff.ClearedRecovered, nil // the allowance was removed by a reload
		}
	}
	return "", nil
}

// samePhase: a progress or lag episode survives a change between the
// statuses of its phase (MIGRATING <-> FULLMIGRATING while full, MIGRATING
// <-> INCRMIGEATING while incremental); status_too_long never does.
func samePhase(a diff.Attention, now dcs.Status, s []Sample) bool {
	switch a.Condition {
	case diff.ProgressStalled:
		return full(now, s)
	case diff.LagHigh, diff.LagGrowing:
		return incremental(now, s)
	}
	return false
}

func stalled(c Config, t Task, s []Sample) (diff.Attention, bool) {
	last := lastSample(s)
	if c.StallAfter <= 0 || last == nil || last.Percent == nil || !full(t.Status, s) {
		return diff.Attention{}, false
	}
	// from is the first sample of the run of samples that show the last
	// percent: progress has not moved since then.
	from := len(s) - 1
	for from > 0 && s[from-1].Percent != nil && *s[from-1].Percent == *last.Percent {
		from--
	}
	// Measured between answers, not up to now: stats calls that fail for
	// a while show no stall that nobody saw.
	if last.At.Sub(s[from].At) < c.StallAfter {
		return diff.Attention{}, false
	}
	p := *last.Percent
	return diff.Attention{Since: s[from].At, Percent: &p, Status: string(t.Status), AllowedSeconds: c.StallAfter.Seconds()}, true
}

func lagHigh(c Config, t Task, s []Sample) (diff.Attention, bool) {
	last := lastSample(s)
	if c.MaxLag <= 0 || last == nil || last.Lag == nil || *last.Lag <= c.MaxLag || !incremental(t.Status, s) {
		return diff.Attention{}, false
	}
	lag, limit := *last.Lag, c.MaxLag
	return diff.Attention{Since: last.At, Lag: &lag, MaxLag: &limit, Status: string(t.Status)}, true
}

// lagGrowing: the samples of the LagGrowingFor before the last one, with
// the last one before that as their start, all carry a lag, each at or above the one
// before, and the last above the first; the first is at least the window
// old, so a short history never counts as a whole window.
func lagGrowing(c Config, t Task, s []Sample) (diff.Attention, bool) {
	if c.LagGrowingFor <= 0 || len(s) < 2 || !incremental(t.Status, s) {
		return diff.Attention{}, false
	}
	start := s[len(s)-1].At.Add(-c.LagGrowingFor) // between answers, as for a stall
	first := len(s) - 1
	for first > 0 && s[first].At.After(start) {
		first--
	}
	if s[first].At.After(start) {
		return diff.Attention{}, false // less than a window of samples
	}
	for i := first; i < len(s); i++ {
		if s[i].Lag == nil || (i > first && *s[i].Lag < *s[i-1].Lag) {
			return diff.Attention{}, false
		}
	}
	from, to := *s[first].Lag, *s[len(s)-1].Lag
	if to <= from {
		return diff.Attention{}, false
	}
	return diff.Attention{Since: s[first].At, Lag: &to, LagFrom: &from, Status: string(t.Status),
		AllowedSeconds: c.LagGrowingFor.Seconds()}, true
}

func tooLong(c Config, t Task) (diff.Attention, bool) {
	allow, ok := c.MaxInStatus[t.Status]
	if !ok || allow <= 0 || t.StatusSince.IsZero() || t.Now.Sub(t.StatusSince) <= allow {
		return diff.Attention{}, false
	}
	return diff.Attention{Since: t.StatusSince, Status: string(t.Status), AllowedSeconds: allow.Seconds()}, true
}

// full: the task copies its full data set (FULLMIGRATING, or MIGRATING
// below 100%).
func full(st dcs.Status, s []Sample) bool {
	switch st {
	case dcs.StatusFullMigrating:
		return true
	case dcs.StatusMigrating:
		last := lastSample(s)
		return last == nil || last.Percent == nil || *last.Percent < 100
	}
	return false
}

// incremental: the task replays changes (INCRMIGEATING, or MIGRATING once
// the full copy is done).
func incremental(st dcs.Status, s []Sample) bool {
	switch st {
	case dcs.StatusIncrMigrating:
		return true
	case dcs.StatusMigrating:
		last := lastSample(s)
		return last != nil && last.Percent != nil && *last.Percent >= 100
	}
	return false
}

func since(s []Sample, t time.Time) []Sample {
	for i, x := range s {
		if !x.At.Before(t) {
			return s[i:]
		}
	}
	return nil
}

func lastSample(s []Sample) *Sample {
	if len(s) == 0 {
		return nil
	}
	return &s[len(s)-1]
}

func find(open []diff.Attention, cond string) (diff.Attention, bool) {
	for _, a := range open {
		if a.Condition == cond {
			return a, true
		}
	}
	return diff.Attention{}, false
}

// Trim drops the samples Detect no longer needs at now: those older than
// the window, except the last of them, which is where the window starts
// (a stall or a growth is measured from it).
func Trim(s []Sample, now time.Time, window time.Duration) []Sample {
	start := now.Add(-window)
	cut := 0
	for cut+1 < len(s) && !s[cut+1].At.After(start) {
		cut++
	}
	return s[cut:]
}
