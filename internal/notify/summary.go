package notify

import (
	"fmt"

	"github.com/dcs-watcher/watcher/internal/diff"
)

// Name is what to call the event's task: its name, else its id, else
// "DCS API" for events about the API as a whole.
func (d Data) Name() string {
	switch {
	case d.TaskName != "":
		return d.TaskName
	case d.Snapshot != nil && d.Snapshot.Name != "":
		return d.Snapshot.Name
	case d.TaskID != "":
		return d.TaskID
	case d.Scope == diff.ScopeStore:
		return "watcher store"
	case d.Scope == diff.ScopeSlack:
		return "Slack delivery"
	default:
		return "DCS API"
	}
}

// Summary is the event in one plain-text line, "<name>: <what happened>";
// the demo, tail and Slack's notification text use it.
func (d Data) Summary() string { return d.Name() + ": " + d.What(nil) }

// What says in a few words what happened, with the statuses as the API
// spelled them. esc is applied to every text that came from the API (Slack
// escapes them for mrkdwn); nil leaves them as they are.
func (d Data) What(esc func(string) string) string {
	if esc == nil {
		esc = func(s string) string { return s }
	}
	label := func(si *StatusInfo) string {
		raw, norm, ok := si.Read()
		switch {
		case !ok:
			return "?"
		case !norm.Known():
			return esc(raw) + " (unknown status)"
		}
		return esc(raw)
	}
	cur := d.CurrentStatus
	if cur == nil {
		cur = statusInfo(d.Snapshot)
	}
	_, _, hasCur := cur.Read()
	switch d.Kind {
	case diff.StatusChanged:
		return label(d.PreviousStatus) + " -> " + label(cur)
	case diff.Discovered:
		if hasCur {
			return "discovered in " + label(cur)
		}
		return "discovered"
	case diff.Removed:
		if hasCur {
			return "removed (last seen " + label(cur) + ")"
		}
		return "removed"
	case diff.WatchDegraded:
		switch d.Scope {
		case diff.ScopeStore:
			return "watcher's JetStream store was missing: recreated; unread events may be lost"
		case diff.ScopeSlack:
			return "Slack destination is dead: events held until it works again"
		}
		if d.TaskID == "" {
			return "watcher cannot see the DCS API"
		}
		return "watcher cannot see the task"
	case diff.WatchRecovered:
		switch d.Scope {
		case diff.ScopeStore:
			return "watcher's JetStream store is back"
		case diff.ScopeSlack:
			return "Slack destination works again"
		}
		if d.TaskID == "" {
			return "watcher sees the DCS API again"
		}
		return "watcher sees the task again"
	case diff.Stalled, diff.Resumed:
		return d.attentionWhat(esc)
	case diff.TaskStatusChanged:
		// The scope's own task_status is the news; other fields are listed apart.
		field := "task_status"
		if d.Scope != "" && d.Scope != diff.ScopeTask {
			field = d.Scope + ".task_status"
		}
		for _, c := range d.Changes {
			if c.Field == field {
				return change(c, esc)
			}
		}
		fallthrough
	case diff.Changed:
		if len(d.Changes) == 1 {
			return change(d.Changes[0], esc)
		}
		return fmt.Sprintf("%d fields changed", len(d.Changes))
	}
	return esc(string(d.Kind))
}

func change(c diff.FieldChange, esc func(string) string) string {
	return esc(c.Field) + ": " + esc(OrNone(c.Old)) + " -> " + esc(OrNone(c.New))
}

// OrNone shows an empty value as "(none)".
func OrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
