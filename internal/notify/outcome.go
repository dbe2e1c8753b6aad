package notify

import (
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
)

// Outcome is where a task stands, as far as the event knows: the last
// token of the NATS subject and data.outcome.
type Outcome string

// Outcomes of an event.
const (
	OutcomeSucceeded  Outcome = "succeeded"
	OutcomeFailed     Outcome = "failed"
	OutcomeStopped    Outcome = "stopped"
	OutcomeInProgress Outcome = "in_progress"
	OutcomeUnknown    Outcome = "unknown"
)

// Severity is how urgently an on-call engineer should look: data.severity,
// and what Slack routes match on.
type Severity string

// Severities of an event.
const (
	SeverityCritical Severity = "critical"
	SeverityWarning  Severity = "warning"
	SeverityInfo     Severity = "info"
)

// Outcomes and Severities list the values, for validation and docs.
func Outcomes() []Outcome {
	return []Outcome{OutcomeSucceeded, OutcomeFailed, OutcomeStopped, OutcomeInProgress, OutcomeUnknown}
}

// Severities lists every Severity, most urgent first.
func Severities() []Severity {
	return []Severity{SeverityCritical, SeverityWarning, SeverityInfo}
}

// Classify is the outcome and severity of an event of kind about a task
// whose status (normalised; "" when none is known) is the one the subject
// carries: the current status, the last known one for removed. The table
// is the README's ("Outcome and severity"):
//
//   - watch_degraded, watch_recovered: unknown (the watcher says it could
//     not see the task, nothing about how it stands); warning, info.
//   - every other kind: the outcome of the status: a failure status
//     (FAILED, MIGRATION_FAILED, ERROR) failed, a success succeeded,
//     TERMINATED/RELEASED/DELETED stopped, any other known status
//     in_progress, an unknown or missing one unknown.
//   - severity: critical when the news is a task failing (status_changed,
//     or discovered already failed); warning for removed, a task stopped by
//     someone, an unknown status; info otherwise (changed and
//     task_status_changed are details, whatever the status).
func Classify(kind diff.Kind, status dcs.Status) (Outcome, Severity) {
	switch kind {
	case diff.WatchDegraded:
		return OutcomeUnknown, SeverityWarning
	case diff.WatchRecovered:
		return OutcomeUnknown, SeverityInfo
	}
	out := outcomeOf(status)
	switch {
	case kind == diff.Removed:
		return out, SeverityWarning
	case kind == diff.Changed || kind == diff.TaskStatusChanged:
		return out, SeverityInfo
	case out == OutcomeFailed:
		return out, SeverityCritical
	case out == OutcomeStopped || out == OutcomeUnknown:
		return out, SeverityWarning
	}
	return out, SeverityInfo
}

func outcomeOf(s dcs.Status) Outcome {
	if s == "" || !s.Known() {
		return OutcomeUnknown
	}
	switch s.Outcome() {
	case dcs.OutcomeFailure:
		return OutcomeFailed
	case dcs.OutcomeSuccess:
		return OutcomeSucceeded
	case dcs.OutcomeStopped:
		return OutcomeStopped
	}
	return OutcomeInProgress
}
