package notify

import (
	"path"
	"slices"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
)

// Current is the status an event gives its task: the current status it
// carries, else its snapshot's; raw as the API spelled it, norm as this
// binary reads it; ok is false when it gives none.
func (d Data) Current() (raw string, norm dcs.Status, ok bool) {
	if raw, norm, ok := d.CurrentStatus.Read(); ok {
		return raw, norm, true
	}
	if d.Snapshot != nil && d.Snapshot.Status != "" {
		return d.Snapshot.Status, d.Snapshot.NormStatus(), true
	}
	return "", "", false
}

// Classified is the event's outcome and severity: the envelope's, or for an
// event published before they existed, what this binary reads from it.
func (d Data) Classified() (dcs.Outcome, Severity) {
	if d.Outcome != "" && d.Severity != "" {
		return d.Outcome, d.Severity
	}
	_, st, _ := d.Current()
	return Classify(d.Kind, st)
}

// Match selects events (a Slack route's, a silence's); an empty field
// matches every event. The globs are path.Match patterns ('*' stops at
// '/'); the lists match when the event's value is one of them.
type Match struct {
	Project    string
	TaskID     string
	TaskName   string
	Kinds      []diff.Kind
	Statuses   []dcs.Status // normalised: the event's current status
	Outcomes   []dcs.Outcome
	Severities []Severity
}

// Matches says whether m selects the event d.
func (m Match) Matches(d Data) bool {
	if !glob(m.Project, d.ProjectID) || !glob(m.TaskID, d.TaskID) || !glob(m.TaskName, d.TaskName) {
		return false
	}
	if len(m.Kinds) > 0 && !slices.Contains(m.Kinds, d.Kind) {
		return false
	}
	if len(m.Statuses) > 0 {
		_, cur, ok := d.Current()
		if !ok || !slices.Contains(m.Statuses, cur) {
			return false
		}
	}
	out, sev := d.Classified()
	if len(m.Outcomes) > 0 && !slices.Contains(m.Outcomes, out) {
		return false
	}
	return len(m.Severities) == 0 || slices.Contains(m.Severities, sev)
}

func glob(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}
