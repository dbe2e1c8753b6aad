package state

import (
	"encoding/json"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
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
	// RowOnly marks a snapshot taken from the task's list row alone (its
	// first sight, before any detail call): the fields only a detail call
	// carries are still unknown, so the first detail answer is compared
	// with it on what the row carries and completes the rest silently.
	RowOnly bool `json:"row_only,omitempty"`
	// RowAhead marks a snapshot whose list-row fields (status, failure
	// reason, instance states...) come from a list row newer than the rest,
	// which is the last detail answer's: a status change told from the
	// row before the task's detail call. The next detail answer is compared
	// with all of it and clears the mark.
	RowAhead bool `json:"row_ahead,omitempty"`
	// Removed marks a task that left the list or answers DCS.4133.
	Removed bool `json:"removed,omitempty"`
	// Blind is set while the watcher cannot see the task (or the API).
	Blind *Blindness `json:"blind,omitempty"`
	// BlindEpisodes counts blindness episodes; it makes each episode's
	// event ids unique.
	BlindEpisodes uint64 `json:"blind_episodes,omitempty"`
	// Attention are the task's open attention episodes (a stalled event
	// told, its resumed not yet), AttentionEpisodes the counter that
	// numbers them: written with the events that report them, in one
	// compare-and-swap, so a restart or another replica neither repeats
	// nor forgets an episode.
	Attention         []diff.Attention `json:"attention,omitempty"`
	AttentionEpisodes uint64           `json:"attention_episodes,omitempty"`
	// Pending is the outbox: the events derived with this record, written
	// with it in one compare-and-swap and cleared once JetStream has
	// acknowledged every one. Until then they are published again, with
	// the same ids, before the task is diffed again, so an ack lost in an
	// outage never leaves the stream disagreeing with the snapshot.
	Pending []Outgoing `json:"pending,omitempty"`
}

// Outgoing is one event of the outbox, as it will be published.
type Outgoing struct {
	ID      string          `json:"id"`
	Subject string          `json:"subject"`
	Body    json.RawMessage `json:"body"`
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
