package event

import "strings"

// Status is a migration task status as the DCS API spells it, or its
// canonical form (Normalize): the <STATUS> token of a subject and
// StatusInfo.Normalized. The API may send a status this version does not
// know; such a value is carried as it is (Known false).
type Status string

// The statuses of the DCS API document, canonical spelling.
const (
	StatusRunning         Status = "RUNNING"
	StatusMigrating       Status = "MIGRATING"
	StatusFullMigrating   Status = "FULLMIGRATING"
	StatusIncrMigrating   Status = "INCRMIGEATING" // sic: the spelling of every enum list
	StatusTerminating     Status = "TERMINATING"
	StatusTerminated      Status = "TERMINATED"
	StatusSuccess         Status = "SUCCESS"
	StatusFailed          Status = "FAILED"
	StatusMigrationFailed Status = "MIGRATION_FAILED"
	StatusReleased        Status = "RELEASED"
)

// NoStatus is the <STATUS> token of a subject when no status is known.
const NoStatus Status = "NONE"

// Phase groups statuses by what they mean for someone watching a task:
// StatusInfo.Phase.
type Phase string

// Phases of a migration task.
const (
	PhaseUnknown  Phase = "unknown"
	PhasePending  Phase = "pending"
	PhaseActive   Phase = "active"
	PhaseStopping Phase = "stopping"
	PhaseTerminal Phase = "terminal"
)

// Outcome is where a task stands: Data.Outcome and the last token of an
// event's subject. Filter on it rather than on statuses: "failed" covers
// every spelling of failure (FAILED, MIGRATION_FAILED, ERROR).
type Outcome string

// Outcomes of a status: a failure status failed, a success succeeded,
// TERMINATED, RELEASED and DELETED stopped, any other known status
// in_progress, an unknown or missing one unknown.
const (
	OutcomeSucceeded  Outcome = "succeeded"
	OutcomeFailed     Outcome = "failed"
	OutcomeStopped    Outcome = "stopped"
	OutcomeInProgress Outcome = "in_progress"
	OutcomeUnknown    Outcome = "unknown"
)

// Outcomes lists every Outcome.
func Outcomes() []Outcome {
	return []Outcome{OutcomeSucceeded, OutcomeFailed, OutcomeStopped, OutcomeInProgress, OutcomeUnknown}
}

type statusClass struct {
	phase   Phase
	outcome Outcome
}

// statuses holds the documented statuses plus values seen in related code
// (CREATING, ERROR, DELETED, MIGRATION_SUCCESS), so that those are not
// flagged as unknown.
var statuses = map[Status]statusClass{
	StatusRunning:         {PhasePending, OutcomeInProgress},
	"CREATING":            {PhasePending, OutcomeInProgress},
	StatusMigrating:       {PhaseActive, OutcomeInProgress},
	StatusFullMigrating:   {PhaseActive, OutcomeInProgress},
	StatusIncrMigrating:   {PhaseActive, OutcomeInProgress},
	StatusTerminating:     {PhaseStopping, OutcomeInProgress},
	StatusTerminated:      {PhaseTerminal, OutcomeStopped},
	StatusSuccess:         {PhaseTerminal, OutcomeSucceeded},
	"MIGRATION_SUCCESS":   {PhaseTerminal, OutcomeSucceeded},
	StatusFailed:          {PhaseTerminal, OutcomeFailed},
	StatusMigrationFailed: {PhaseTerminal, OutcomeFailed},
	"ERROR":               {PhaseTerminal, OutcomeFailed},
	StatusReleased:        {PhaseTerminal, OutcomeStopped},
	"DELETED":             {PhaseTerminal, OutcomeStopped},
}

// variants maps other spellings onto the canonical one.
var variants = map[string]Status{
	"INCRMIGRATING": StatusIncrMigrating,
}

// Normalize returns the canonical form of a raw status: upper case, trimmed,
// spelling variants merged. An unknown value is returned as it is, upper-cased.
func Normalize(raw string) Status {
	s := strings.ToUpper(strings.TrimSpace(raw))
	if v, ok := variants[s]; ok {
		return v
	}
	return Status(s)
}

// Known reports whether s (normalised) is a status this version
// understands.
func (s Status) Known() bool {
	_, ok := statuses[s]
	return ok
}

// Phase returns the phase of a normalised status, PhaseUnknown if unknown.
func (s Status) Phase() Phase {
	if i, ok := statuses[s]; ok {
		return i.phase
	}
	return PhaseUnknown
}

// Terminal reports whether the task will not move on by itself.
func (s Status) Terminal() bool { return s.Phase() == PhaseTerminal }

// Outcome returns where a task in status s (normalised) stands;
// OutcomeUnknown for a status this version does not know, or none. An
// event states its own (Data.Outcome): prefer that one, which a newer
// watcher may judge with a newer table.
func (s Status) Outcome() Outcome {
	if i, ok := statuses[s]; ok {
		return i.outcome
	}
	return OutcomeUnknown
}
