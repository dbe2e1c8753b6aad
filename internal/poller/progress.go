package poller

import (
	"context"
	"sync"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// StatsFetcher reads a task's progress: the stats call.
type StatsFetcher interface {
	Stats(ctx context.Context, taskID string) (dcs.Stats, dcs.Info, error)
}

// progress is the last stats answer of each active task, in memory only:
// it changes every cycle, so storing it would cost a write per active task
// per cycle, and it has no part in any event id, so a restart that forgets
// it tells nothing twice (the first stats answer after it brings it back).
type progress struct {
	mu sync.Mutex
	by map[string]taskProgress
}

type taskProgress struct {
	st dcs.Stats
	at time.Time // when the answer came; zero: asked, never answered
	// asked is the start of the last cycle that made the task's stats
	// call, answered or not: what the turns go by.
	asked time.Time
	// base is the first percentage kept (since the task was first seen,
	// or since its percentage went back) and when it came: the rate is
	// measured from it.
	base   *float64
	baseAt time.Time
	rate   *float64 // percent per minute; nil: unknown
}

func newProgress() *progress { return &progress{by: map[string]taskProgress{}} }

// answered records a stats answer st of task id that came at at, asked by
// the cycle that started at asked.
func (pg *progress) answered(id string, st dcs.Stats, at, asked time.Time) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	tp := pg.by[id]
	tp.asked = asked
	if p := st.Percent; p != nil {
		switch {
		case tp.base == nil || (tp.st.Percent != nil && *p < *tp.st.Percent):
			v := *p
			tp.base, tp.baseAt, tp.rate = &v, at, nil
		case at.After(tp.baseAt):
			r := (*p - *tp.base) / at.Sub(tp.baseAt).Minutes()
			tp.rate = &r
		}
	} else {
		tp.rate = nil
	}
	tp.st, tp.at = st, at
	pg.by[id] = tp
}

// failed records that the cycle that started at asked made the task's
// stats call without an answer: its last progress stays as it was, and it
// waits for its next turn like the others.
func (pg *progress) failed(id string, asked time.Time) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	tp := pg.by[id]
	tp.asked = asked
	pg.by[id] = tp
}

// asked is when the cycle that last made the task's stats call started;
// zero if none has.
func (pg *progress) asked(id string) time.Time {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	return pg.by[id].asked
}

// get returns the task's last stats answer and when it came.
func (pg *progress) get(id string) (dcs.Stats, time.Time, bool) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	tp, ok := pg.by[id]
	if !ok || tp.at.IsZero() {
		return dcs.Stats{}, time.Time{}, false
	}
	return tp.st, tp.at, true
}

// envelope is the task's progress as events carry it; nil before its
// first answer.
func (pg *progress) envelope(id string) *notify.Progress {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	tp, ok := pg.by[id]
	if !ok || tp.at.IsZero() {
		return nil
	}
	return &notify.Progress{Stats: tp.st, ObservedAt: tp.at, PercentPerMinute: tp.rate}
}

// each calls fn with every task's last answer.
func (pg *progress) each(fn func(id string, st dcs.Stats, at time.Time)) {
	pg.mu.Lock()
	type one struct {
		id string
		st dcs.Stats
		at time.Time
	}
	all := make([]one, 0, len(pg.by))
	for id, tp := range pg.by {
		if !tp.at.IsZero() {
			all = append(all, one{id, tp.st, tp.at})
		}
	}
	pg.mu.Unlock()
	for _, o := range all {
		fn(o.id, o.st, o.at)
	}
}

// keep forgets the progress of every task for which active is false.
func (pg *progress) keep(active func(id string) bool) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	for id := range pg.by {
		if !active(id) {
			delete(pg.by, id)
		}
	}
}
