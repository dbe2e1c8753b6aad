package notify

import "github.com/dcs-watcher/watcher/event"

// Severity is how urgently an on-call engineer should look: data.severity,
// and what Slack routes match on (event.Severity).
type Severity = event.Severity

// Severities of an event.
const (
	SeverityCritical = event.SeverityCritical
	SeverityWarning  = event.SeverityWarning
	SeverityInfo     = event.SeverityInfo
)

// Severities lists every Severity, most urgent first.
func Severities() []Severity { return event.Severities() }
