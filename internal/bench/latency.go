package bench

import (
	"cmp"
	"slices"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
)

// Observation is an event as a consumer of the stream saw it: a task's
// status became Status, and the stream stored the event at At.
type Observation struct {
	TaskID string
	Status string
	At     time.Time
}

// Detection pairs a planned change with the event that reported it.
type Detection struct {
	Change  sim.StatusChange
	Latency time.Duration // stored time of the event - planned time of the change
}

// Matched is the outcome of MatchChanges.
type Matched struct {
	Detected []Detection
	// Missing are the planned changes no event reported.
	Missing []sim.StatusChange
	// Unplanned counts observations that match no planned change (a
	// status the plan never set on that task, or reported twice).
	Unplanned int
}

// Latencies lists the latencies of the detected changes.
func (m Matched) Latencies() []time.Duration {
	out := make([]time.Duration, len(m.Detected))
	for i, d := range m.Detected {
		out[i] = d.Latency
	}
	return out
}

// MatchChanges pairs each observation with the earliest unmatched planned
// change of the same task to the same status; start is the scenario's time
// zero, which the changes' offsets count from. Observations are taken in
// time order, so a task that goes to the same status twice pairs in order.
func MatchChanges(planned []sim.StatusChange, start time.Time, obs []Observation) Matched {
	type key struct{ task, status string }
	queue := map[key][]int{}
	for i, c := range planned {
		k := key{c.TaskID, c.Status}
		queue[k] = append(queue[k], i)
	}
	for _, q := range queue {
		slices.SortStableFunc(q, func(a, b int) int { return cmp.Compare(planned[a].At, planned[b].At) })
	}
	sorted := slices.Clone(obs)
	slices.SortStableFunc(sorted, func(a, b Observation) int { return a.At.Compare(b.At) })

	var m Matched
	done := make([]bool, len(planned))
	for _, o := range sorted {
		k := key{o.TaskID, o.Status}
		q := queue[k]
		if len(q) == 0 {
			m.Unplanned++
			continue
		}
		i := q[0]
		queue[k] = q[1:]
		done[i] = true
		m.Detected = append(m.Detected, Detection{Change: planned[i], Latency: o.At.Sub(start.Add(planned[i].At))})
	}
	for i, c := range planned {
		if !done[i] {
			m.Missing = append(m.Missing, c)
		}
	}
	return m
}
