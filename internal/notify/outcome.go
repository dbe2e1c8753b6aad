package notify

import (
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
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
//   - every other kind: the outcome of the status (dcs.Status.Outcome): a
//     failure status (FAILED, MIGRATION_FAILED, ERROR) failed, a success
//     succeeded, TERMINATED/RELEASED/DELETED stopped, any other known
//     status in_progress, an unknown or missing one unknown.
//   - stalled, resumed: the outcome of the status, as below; warning (a
//     task that needs a look), info (it no longer does).
//   - severity: critical when the news is a task failing (status_changed,
//     or discovered already failed); warning for removed, a task stopped by
//     someone, an unknown status; info otherwise (changed and
//     task_status_changed are details, whatever the status).
func Classify(kind diff.Kind, status dcs.Status) (dcs.Outcome, Severity) {
	switch kind {
	case diff.WatchDegraded:
		return dcs.OutcomeUnknown, SeverityWarning
	case diff.WatchRecovered:
		return dcs.OutcomeUnknown, SeverityInfo
	}
	out := status.Outcome()
	switch {
	case kind == diff.Removed || kind == diff.Stalled:
		return out, SeverityWarning
	case kind == diff.Resumed:
		return out, SeverityInfo
	case kind == diff.Changed || kind == diff.TaskStatusChanged:
		return out, SeverityInfo
	case out == dcs.OutcomeFailed:
		return out, SeverityCritical
	case out == dcs.OutcomeStopped || out == dcs.OutcomeUnknown:
		return out, SeverityWarning
	}
	return out, SeverityInfo
}
