package silence

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// Silence keeps the events it matches from Slack from Start to End.
type Silence struct {
	ID    string
	Match notify.Match
	// Matchers are the --match flags Match was parsed from, as given: what
	// watcher silence ls shows.
	Matchers   []string
	Start, End time.Time
	Comment    string
	CreatedBy  string
	CreatedAt  time.Time
}

// ActiveAt says whether s holds events observed at now.
func (s Silence) ActiveAt(now time.Time) bool { return !now.Before(s.Start) && now.Before(s.End) }

// WindowPrefix starts the id of a maintenance window's silence:
// "window:<name>".
const WindowPrefix = "window:"

// Keys of --match, in the order the help names them.
var matchKeys = []string{"name", "task", "project", "kind", "status", "outcome", "severity"}

// ParseMatchers reads --match flags (key=value, keys: name (task name
// glob), task (task id glob), project (glob), kind, status, outcome,
// severity, the last four a comma-separated list of which any matches).
// The flags are ANDed, so a key may be given once; at least one is
// required, as a silence of everything is a mute window's job. flag names
// the flag in errors.
func ParseMatchers(flag string, flags []string) (notify.Match, error) {
	var m notify.Match
	if len(flags) == 0 {
		return m, fmt.Errorf("%s: at least one key=value is required (keys: %s)", flag, strings.Join(matchKeys, ", "))
	}
	seen := map[string]bool{}
	for _, f := range flags {
		key, val, ok := strings.Cut(f, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch {
		case !ok:
			return m, fmt.Errorf("%s %q: want key=value (keys: %s)", flag, f, strings.Join(matchKeys, ", "))
		case !slices.Contains(matchKeys, key):
			return m, fmt.Errorf("%s %q: unknown key %q (want one of %s)", flag, f, key, strings.Join(matchKeys, ", "))
		case val == "":
			return m, fmt.Errorf("%s %q: empty value", flag, f)
		case seen[key]:
			return m, fmt.Errorf("%s %q: key %s given twice (the flags are ANDed; list alternatives as %s=a,b)", flag, f, key, key)
		}
		seen[key] = true
		if err := setKey(&m, key, val); err != nil {
			return m, fmt.Errorf("%s %q: %w", flag, f, err)
		}
	}
	return m, nil
}

func setKey(m *notify.Match, key, val string) error {
	switch key {
	case "name", "task", "project":
		if _, err := path.Match(val, ""); err != nil {
			return fmt.Errorf("invalid glob %q: %v", val, err)
		}
		switch key {
		case "name":
			m.TaskName = val
		case "task":
			m.TaskID = val
		default:
			m.Project = val
		}
		return nil
	}
	for _, v := range strings.Split(val, ",") {
		v = strings.TrimSpace(v)
		if err := addValue(m, key, v); err != nil {
			return err
		}
	}
	return nil
}

func addValue(m *notify.Match, key, v string) error {
	switch key {
	case "kind":
		if !slices.Contains(diff.Kinds(), diff.Kind(v)) {
			return fmt.Errorf("unknown kind %q (want one of %s)", v, join(diff.Kinds()))
		}
		m.Kinds = append(m.Kinds, diff.Kind(v))
	case "status":
		st := dcs.Normalize(v)
		if !st.Known() {
			return fmt.Errorf("unknown status %q", v)
		}
		m.Statuses = append(m.Statuses, st)
	case "outcome":
		if !slices.Contains(dcs.Outcomes(), dcs.Outcome(v)) {
			return fmt.Errorf("unknown outcome %q (want one of %s)", v, join(dcs.Outcomes()))
		}
		m.Outcomes = append(m.Outcomes, dcs.Outcome(v))
	case "severity":
		if !slices.Contains(notify.Severities(), notify.Severity(v)) {
			return fmt.Errorf("unknown severity %q (want one of %s)", v, join(notify.Severities()))
		}
		m.Severities = append(m.Severities, notify.Severity(v))
	}
	return nil
}

func join[S ~string](vs []S) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return strings.Join(out, ", ")
}

// newID is a silence's id: 10 random lower-case letters and digits, a KV
// key token as it stands.
func newID() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
