package diff

import (
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// Conditions of an attention episode: what makes a task need a look
// although its status says nothing new.
const (
	// ProgressStalled: full-migration progress has not moved for a while.
	ProgressStalled = "progress_stalled"
	// LagHigh: the incremental lag is above its limit.
	LagHigh = "lag_high"
	// LagGrowing: the incremental lag has grown over a whole window.
	LagGrowing = "lag_growing"
	// StatusTooLong: the task has been in one status beyond its allowance.
	StatusTooLong = "status_too_long"
)

// Conditions lists every condition, in the order the detector judges them.
func Conditions() []string {
	return []string{ProgressStalled, LagHigh, LagGrowing, StatusTooLong}
}

// Attention is one episode of a condition of a task: data.attention of its
// Stalled and Resumed events, and what the task's record keeps while it is
// open. The figures are those that opened it (a Resumed event carries the
// opening figures too, and the clearing ones under Cleared*).
type Attention struct {
	Condition string `json:"condition"`
	// Episode numbers the task's episodes (of any condition): a Stalled
	// and its Resumed share it, and a second stall over the same snapshot
	// is a new event, not a duplicate.
	Episode uint64    `json:"episode"`
	Since   time.Time `json:"since"`
	// Percent is the full-migration progress that stopped moving.
	Percent *float64 `json:"percent,omitempty"`
	// Lag is the lag that opened the episode; LagFrom the first lag of the
	// window it grew over (lag_growing); MaxLag the limit (lag_high).
	Lag     *int64 `json:"lag,omitempty"`
	LagFrom *int64 `json:"lag_from,omitempty"`
	MaxLag  *int64 `json:"max_lag,omitempty"`
	// Status is the status the task stays in (status_too_long) or was in
	// when the episode opened; AllowedSeconds the allowance or window
	// that was passed.
	Status         string  `json:"status,omitempty"`
	AllowedSeconds float64 `json:"allowed_seconds,omitempty"`
	// ClearedAt and ClearedBy say when and why a Resumed episode ended:
	// recovered (the figures are good again), status_changed (the status
	// that held the condition ended) or removed (the task left).
	ClearedAt  *time.Time `json:"cleared_at,omitempty"`
	ClearedBy  string     `json:"cleared_by,omitempty"`
	ClearedLag *int64     `json:"cleared_lag,omitempty"`
}

// Reasons an episode clears.
const (
	ClearedRecovered     = "recovered"
	ClearedStatusChanged = "status_changed"
	ClearedRemoved       = "removed"
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
		Attention: a.clone(),
	}
}

// clone copies a and what its figures point to.
func (a Attention) clone() *Attention {
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
