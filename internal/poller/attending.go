package poller

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcs-watcher/watcher/internal/attention"
	"github.com/dcs-watcher/watcher/internal/dcs"
)

// attending holds each task's recent progress samples (the stats answers
// of the last attention window), in memory only, like the progress they
// come from: a restart forgets them, which delays a stall's detection by
// at most a window and never repeats one (the open episodes are in the
// record). Its zero value is ready to use.
type attending struct {
	mu      sync.Mutex
	samples map[string][]attention.Sample
	// tails are the log tails fetched for changes not yet seen committed
	// (logtail.go).
	tails map[string]fetchedTail
	// logCalls counts the logs calls of failures and stalls (logtail.go).
	logCalls atomic.Int64
}

// sampled adds the task's last stats answer (st at at, when ok), when it
// is newer than the last sample, and returns the samples of the window
// ending at now.
func (a *attending) sampled(id string, st dcs.Stats, at time.Time, ok bool, now time.Time, window time.Duration) []attention.Sample {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.samples == nil {
		a.samples = map[string][]attention.Sample{}
	}
	s := a.samples[id]
	if ok && (len(s) == 0 || at.After(s[len(s)-1].At)) {
		s = append(s, attention.Sample{At: at, Percent: st.Percent, Lag: st.Lag})
	}
	s = attention.Trim(s, now, window)
	if len(s) == 0 {
		delete(a.samples, id)
		return nil
	}
	a.samples[id] = s
	return s
}

// samplesOf is the task's samples as sampled last kept them.
func (a *attending) samplesOf(id string) []attention.Sample {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.samples[id]
}

// fetchedTail is the log tail fetched for a task's change against one
// revision of its record.
type fetchedTail struct {
	rev   uint64
	lines []dcs.LogEntry
	class string
}

// tailFor returns the tail fetched for the task's change against revision
// rev, fetching it with fetch the first time.
func (a *attending) tailFor(task string, rev uint64, fetch func() ([]dcs.LogEntry, string)) ([]dcs.LogEntry, string) {
	a.mu.Lock()
	if f, ok := a.tails[task]; ok && f.rev == rev {
		a.mu.Unlock()
		return f.lines, f.class
	}
	a.mu.Unlock()
	lines, class := fetch()
	a.mu.Lock()
	if a.tails == nil {
		a.tails = map[string]fetchedTail{}
	}
	a.tails[task] = fetchedTail{rev: rev, lines: lines, class: class}
	a.mu.Unlock()
	return lines, class
}

// forgetTail drops the tails of changes whose record has moved on (their
// change was committed): judged after each cycle, which sees every task.
func (a *attending) forgetTail(task string, rev uint64) {
	a.mu.Lock()
	if f, ok := a.tails[task]; ok && f.rev < rev {
		delete(a.tails, task)
	}
	a.mu.Unlock()
}
