package memlimit

import (
	"math"
	"runtime/debug"
	"sync"
)

// What auto sets when no container limit is found, once the fleet is
// known: the heap the watcher holds grows with the tasks it watches
// (their snapshots, packed; the KV's and the stream's subject indexes;
// the refresh plan; during a cycle its list's rows until each is told:
// about 1.5 KB a task at 100k between cycles, 1.8 KB in a cold start's
// first), and without a limit the collector lets the heap reach twice
// what is live, plus what the first cycle makes before a collection
// ends. The limit leaves the live heap of a cycle about half again as
// much room (2.5 KiB a task made the change of a cold start at 100k
// late by 1.5 s, the collector's work; 2.75 KiB by 0.5 s); should the
// tasks be much larger than measured, the runtime caps the collector at
// half the CPU and lets the heap grow past the limit: slower, never an
// out-of-memory the limit made.
const (
	FleetBase    = 64 << 20 // the watcher and its embedded NATS, no task
	FleetPerTask = 11 << 8  // per task listed: 2.75 KiB
)

// FromFleet: auto, sized to the fleet (no container limit).
const FromFleet = "fleet"

// ForFleet is the soft limit for a fleet of tasks, rounded up to a MiB.
func ForFleet(tasks int) int64 {
	const mib = 1 << 20
	return (FleetBase + int64(tasks)*FleetPerTask + mib - 1) / mib * mib
}

// Fleet sizes the soft limit to the tasks listed, when memory_limit is
// auto and there is no container limit (Apply left none). It is safe for
// concurrent use by the pollers of several projects; a nil *Fleet does
// nothing (the limit came from elsewhere).
type Fleet struct {
	onSet func(a Applied, tasks int) // hears of each new limit

	mu    sync.Mutex
	tasks map[string]int // last count listed, by project
	limit int64          // in force; 0: none yet
}

// NewFleet is the Fleet of what Apply did: nil unless it left the limit
// to auto with no container limit. onSet, if not nil, hears of each limit
// it sets.
func NewFleet(a Applied, onSet func(a Applied, tasks int)) *Fleet {
	if !a.auto {
		return nil
	}
	return &Fleet{onSet: onSet, tasks: map[string]int{}}
}

// Listed takes the number of tasks a project's list returned and raises
// the limit to what the fleet of every project needs. It never lowers
// it: the heap of tasks that left the list is not returned at once.
func (f *Fleet) Listed(project string, tasks int) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tasks[project] = tasks
	total := 0
	for _, n := range f.tasks {
		total += n
	}
	limit := ForFleet(total)
	if limit <= f.limit {
		return
	}
	f.limit = limit
	debug.SetMemoryLimit(limit)
	if f.onSet != nil {
		f.onSet(Applied{Bytes: limit, Source: FromFleet, auto: true}, total)
	}
}

// Applied is the limit f put in force; none before a list was seen.
func (f *Fleet) Applied() Applied {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limit == 0 {
		return Applied{Bytes: math.MaxInt64, Source: None, auto: true}
	}
	return Applied{Bytes: f.limit, Source: FromFleet, auto: true}
}
