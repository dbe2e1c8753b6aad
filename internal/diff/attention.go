package diff

import (
	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/dcs"
)

// Conditions of an attention episode: what makes a task need a look
// although its status says nothing new (event.ProgressStalled...).
const (
	ProgressStalled = event.ProgressStalled
	LagHigh         = event.LagHigh
	LagGrowing      = event.LagGrowing
	StatusTooLong   = event.StatusTooLong
)

// Conditions lists every condition, in the order the detector judges them.
func Conditions() []string { return event.Conditions() }

// Attention is one episode of a condition of a task: data.attention of its
// Stalled and Resumed events, and what the task's record keeps while it is
// open.
type Attention = event.Attention

// Reasons an episode clears.
const (
	ClearedRecovered     = event.ClearedRecovered
	ClearedStatusChanged = event.ClearedStatusChanged
	ClearedRemoved       = event.ClearedRemoved
)

// StalledEvent is the event of an episode a that opens for the task whose
// last snapshot is last.
func StalledEvent(taskID string, a Attention, last *dcs.Task) Event {
	return attentionEvent(Stalled, taskID, a, last)
}

// ResumedEvent is the event of the episode a that clears.
func ResumedEvent(taskID string, a Attention, last *dcs.Task) Event {
	return attentionEvent(Resumed, taskID, a, last)
}

// attentionEvent's id hashes the condition and the episode number with the
// snapshot, never the figures or times: the same episode detected again
// after a crash has the same id.
func attentionEvent(kind Kind, taskID string, a Attention, last *dcs.Task) Event {
	j := canonicalJSON(last)
	return Event{
		ID:        eventID(kind, taskID, "", j, j, a.Condition, a.Episode),
		Kind:      kind,
		TaskID:    taskID,
		Prev:      clone(last),
		Curr:      clone(last),
		Attention: cloneAttention(a),
	}
}

// cloneAttention copies a and what its figures point to.
func cloneAttention(a Attention) *Attention {
	a.Percent = ptr(a.Percent)
	a.Lag, a.LagFrom, a.MaxLag, a.ClearedLag = ptr(a.Lag), ptr(a.LagFrom), ptr(a.MaxLag), ptr(a.ClearedLag)
	a.ClearedAt = ptr(a.ClearedAt)
	return &a
}

func ptr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
