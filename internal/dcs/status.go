package dcs

import "github.com/dcs-watcher/watcher/event"

// The status model is the event contract's (package event): the phases
// and outcomes that events carry are judged by the same table consumers
// read. These names keep the watcher's code in its own vocabulary.

// Status is a migration task status as the API spells it; Normalize maps
// spelling variants onto one canonical value.
type Status = event.Status

// Phase groups statuses by what they mean for someone watching a task.
type Phase = event.Phase

// Outcome is where a task in a status stands.
type Outcome = event.Outcome

// The statuses of the API document, canonical spelling.
const (
	StatusRunning         = event.StatusRunning
	StatusMigrating       = event.StatusMigrating
	StatusFullMigrating   = event.StatusFullMigrating
	StatusIncrMigrating   = event.StatusIncrMigrating
	StatusTerminating     = event.StatusTerminating
	StatusTerminated      = event.StatusTerminated
	StatusSuccess         = event.StatusSuccess
	StatusFailed          = event.StatusFailed
	StatusMigrationFailed = event.StatusMigrationFailed
	StatusReleased        = event.StatusReleased
)

// Phases of a migration task.
const (
	PhaseUnknown  = event.PhaseUnknown
	PhasePending  = event.PhasePending
	PhaseActive   = event.PhaseActive
	PhaseStopping = event.PhaseStopping
	PhaseTerminal = event.PhaseTerminal
)

// Outcomes of a status.
const (
	OutcomeSucceeded  = event.OutcomeSucceeded
	OutcomeFailed     = event.OutcomeFailed
	OutcomeStopped    = event.OutcomeStopped
	OutcomeInProgress = event.OutcomeInProgress
	OutcomeUnknown    = event.OutcomeUnknown
)

// Outcomes lists every Outcome, for validation and docs.
func Outcomes() []Outcome { return event.Outcomes() }

// Normalize returns the canonical form of a raw status (event.Normalize).
func Normalize(raw string) Status { return event.Normalize(raw) }

// hasReason reports whether a failure reason (error_message) belongs to a
// task in status s: a failure status, or one the watcher does not know
// (it may be a failure the document does not list).
func hasReason(s Status) bool { return !s.Known() || s.Outcome() == OutcomeFailed }
