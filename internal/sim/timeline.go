package sim

import (
	"slices"
	"time"
)

// wireTime is the API's time format (the document's example: 2019/10/22 14:44:30).
const wireTime = "2006/01/02 15:04:05"

// task is a TaskSpec prepared for serving: steps sorted, times precomputed.
type simTask struct {
	spec      *TaskSpec
	steps     []Step
	createdAt string // start + AppearsAt, formatted once
	appears   time.Duration
	removed   time.Duration // valid if hasRemoved
	hasRemove bool
}

// state is a task's changing fields at one moment, steps folded up to it.
type taskState struct {
	status, taskStatus, srcTaskStatus, dstTaskStatus string
	errorMessage, description, bandwidthLimitMB      string
	updated                                          time.Duration // At of the latest applied step
	released                                         time.Duration // valid if isReleased
	isReleased                                       bool
}

func newTask(spec *TaskSpec, start time.Time) *simTask {
	t := &simTask{
		spec:      spec,
		steps:     slices.Clone(spec.Steps),
		appears:   spec.AppearsAt,
		createdAt: start.Add(spec.AppearsAt).UTC().Format(wireTime),
	}
	// Validate rejects unsorted steps; a scenario built in Go that skipped
	// it still gets a coherent timeline.
	slices.SortStableFunc(t.steps, func(a, b Step) int { return cmpDuration(a.At, b.At) })
	if spec.RemovedAt != nil {
		t.removed, t.hasRemove = *spec.RemovedAt, true
	}
	return t
}

// visible reports whether the task exists at elapsed: created and not deleted.
func (t *simTask) shownAt(elapsed time.Duration) bool {
	return elapsed >= t.appears && (!t.hasRemove || elapsed < t.removed)
}

// stateAt folds the steps that apply at elapsed. Tasks have a handful of
// steps, so folding on demand is cheaper than storing every intermediate
// state for a fleet of 100k.
func (t *simTask) stateAt(elapsed time.Duration) taskState {
	st := taskState{description: t.spec.Description, bandwidthLimitMB: t.spec.BandwidthLimitMB}
	for i := range t.steps {
		s := &t.steps[i]
		if s.At > elapsed {
			break
		}
		st.updated = s.At
		setField(&st.status, s.Status)
		setField(&st.taskStatus, s.TaskStatus)
		setField(&st.srcTaskStatus, s.SourceTaskStatus)
		setField(&st.dstTaskStatus, s.TargetTaskStatus)
		setField(&st.errorMessage, s.ErrorMessage)
		setField(&st.description, s.Description)
		setField(&st.bandwidthLimitMB, s.BandwidthLimitMB)
		if !st.isReleased && s.Status != nil && *s.Status == "RELEASED" {
			st.released, st.isReleased = s.At, true
		}
	}
	return st
}

func setField(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

func cmpDuration(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
