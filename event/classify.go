package event

// Classify is the outcome and severity of an event of kind about a task
// whose status (normalised; "" when none is known) is the one the subject
// carries: the current status, the last known one for removed. The table
// is docs/events.md's ("Outcome and severity"):
//
//   - watch_degraded, watch_recovered: unknown (the watcher says it could
//     not see the task, nothing about how it stands); warning, info.
//   - heartbeat: unknown (it is about no task); info.
//   - every other kind: the outcome of the status (Status.Outcome): a
//     failure status (FAILED, MIGRATION_FAILED, ERROR) failed, a success
//     succeeded, TERMINATED/RELEASED/DELETED stopped, any other known
//     status in_progress, an unknown or missing one unknown.
//   - stalled, resumed: the outcome of the status, as below; warning (a
//     task that needs a look), info (it no longer does).
//   - severity: critical when the news is a task failing (status_changed,
//     or discovered already failed); warning for removed, a task stopped by
//     someone, an unknown status; info otherwise (changed and
//     task_status_changed are details, whatever the status).
func Classify(kind Kind, status Status) (Outcome, Severity) {
	switch kind {
	case WatchDegraded:
		return OutcomeUnknown, SeverityWarning
	case WatchRecovered, Heartbeat:
		return OutcomeUnknown, SeverityInfo
	}
	out := status.Outcome()
	switch {
	case kind == Removed || kind == Stalled:
		return out, SeverityWarning
	case kind == Resumed:
		return out, SeverityInfo
	case kind == Changed || kind == TaskStatusChanged:
		return out, SeverityInfo
	case out == OutcomeFailed:
		return out, SeverityCritical
	case out == OutcomeStopped || out == OutcomeUnknown:
		return out, SeverityWarning
	}
	return out, SeverityInfo
}

// Current is the status an event gives its task: the current status it
// carries, else its snapshot's; raw as the API spelled it, norm as this
// version reads it; ok is false when it gives none.
func (d Data) Current() (raw string, norm Status, ok bool) {
	if raw, norm, ok := d.CurrentStatus.Read(); ok {
		return raw, norm, true
	}
	if d.Snapshot != nil && d.Snapshot.Status != "" {
		return d.Snapshot.Status, d.Snapshot.NormStatus(), true
	}
	return "", "", false
}

// Classified is the event's outcome and severity: the envelope's, or for an
// event published before they existed, what this version reads from it.
func (d Data) Classified() (Outcome, Severity) {
	if d.Outcome != "" && d.Severity != "" {
		return d.Outcome, d.Severity
	}
	_, st, _ := d.Current()
	return Classify(d.Kind, st)
}
