package notify

import (
	"path"
	"slices"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
)

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
