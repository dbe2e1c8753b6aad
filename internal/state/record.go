package state

import (
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// Record is what the watcher remembers of one task (or, with a nil Task, of
// the API as a whole).
type Record struct {
	// Task is the last snapshot, passwords already dropped by the dcs client.
	Task *dcs.Task `json:"task,omitempty"`
	// StatusSince is when the task was first seen in its current status.
	StatusSince time.Time `json:"status_since,omitzero"`
	// WrittenAt is when this record was written.
	WrittenAt time.Time `json:"written_at,omitzero"`
	// Removed marks a task that left the list or answers DCS.4133.
	Removed bool `json:"removed,omitempty"`
	// Blind is set while the watcher cannot see the task (or the API).
	Blind *Blindness `json:"blind,omitempty"`
	// BlindEpisodes counts blindness episodes; it makes each episode's
	// event ids unique.
	BlindEpisodes uint64 `json:"blind_episodes,omitempty"`
}

// Blindness is an ongoing failure to see a task or the API.
type Blindness struct {
	Class string    `json:"class"`
	Since time.Time `json:"since"`
}

// Entry is a Record with the KV revision it was read or written at.
type Entry struct {
	Record
	Revision uint64
}
