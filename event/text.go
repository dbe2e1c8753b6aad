package event

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file words an event for people: the watcher's demo, tail and Slack
// messages use it, and so can a consumer that logs what it handles.

// Name is what to call the event's task: its name, else its id, else
// "DCS API" for events about the API as a whole ("watcher <replica>" for a
// heartbeat).
func (d Data) Name() string {
	switch {
	case d.TaskName != "":
		return d.TaskName
	case d.Snapshot != nil && d.Snapshot.Name != "":
		return d.Snapshot.Name
	case d.TaskID != "":
		return d.TaskID
	case d.Scope == ScopeStore:
		return "watcher store"
	case d.Scope == ScopeSlack:
		return "Slack delivery"
	case d.Heartbeat != nil:
		return "watcher " + d.Heartbeat.Replica
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
		cur = StatusOf(d.Snapshot)
	}
	_, _, hasCur := cur.Read()
	switch d.Kind {
	case StatusChanged:
		return label(d.PreviousStatus) + " -> " + label(cur)
	case Discovered:
		if hasCur {
			return "discovered in " + label(cur)
		}
		return "discovered"
	case Removed:
		if hasCur {
			return "removed (last seen " + label(cur) + ")"
		}
		return "removed"
	case WatchDegraded:
		switch d.Scope {
		case ScopeStore:
			return "watcher's JetStream store was missing: recreated; unread events may be lost"
		case ScopeSlack:
			return "Slack destination is dead: events held until it works again"
		}
		if d.TaskID == "" {
			return "watcher cannot see the DCS API"
		}
		return "watcher cannot see the task"
	case WatchRecovered:
		switch d.Scope {
		case ScopeStore:
			return "watcher's JetStream store is back"
		case ScopeSlack:
			return "Slack destination works again"
		}
		if d.TaskID == "" {
			return "watcher sees the DCS API again"
		}
		return "watcher sees the task again"
	case Stalled, Resumed:
		return d.attentionWhat(esc)
	case Heartbeat:
		if hb := d.Heartbeat; hb != nil {
			return fmt.Sprintf("heartbeat %d: polls %d project(s), %d replica(s) alive", hb.Seq, len(hb.Projects), hb.Replicas)
		}
	case TaskStatusChanged:
		// The scope's own task_status is the news; other fields are listed apart.
		field := "task_status"
		if d.Scope != "" && d.Scope != ScopeTask {
			field = d.Scope + ".task_status"
		}
		for _, c := range d.Changes {
			if c.Field == field {
				return change(c, esc)
			}
		}
		fallthrough
	case Changed:
		if len(d.Changes) == 1 {
			return change(d.Changes[0], esc)
		}
		return fmt.Sprintf("%d fields changed", len(d.Changes))
	}
	return esc(string(d.Kind))
}

func change(c FieldChange, esc func(string) string) string {
	return esc(c.Field) + ": " + esc(OrNone(c.Old)) + " -> " + esc(OrNone(c.New))
}

// OrNone shows an empty value as "(none)".
func OrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// attentionWhat says in a few words what a stalled or resumed event is
// about: "full sync stalled at 63%", "incremental lag growing: 1000 ->
// 2000", "in RUNNING longer than 1h", "full sync progressing again", ...
// esc applies to the status, which came from the API.
func (d Data) attentionWhat(esc func(string) string) string {
	a := d.Attention
	if a == nil {
		return string(d.Kind)
	}
	if d.Kind == Stalled {
		switch a.Condition {
		case ProgressStalled:
			if a.Percent != nil {
				return "full sync stalled at " + strconv.FormatFloat(*a.Percent, 'f', -1, 64) + "%"
			}
			return "full sync stalled"
		case LagHigh:
			return "incremental lag high: " + num(a.Lag) + " (max " + num(a.MaxLag) + ")"
		case LagGrowing:
			return "incremental lag growing: " + num(a.LagFrom) + " -> " + num(a.Lag)
		case StatusTooLong:
			return "in " + esc(a.Status) + " longer than " + ShortDuration(seconds(a.AllowedSeconds))
		}
		return "needs a look: " + esc(a.Condition)
	}
	switch a.ClearedBy {
	case ClearedRemoved:
		return ConditionLabel(a.Condition, esc(a.Status)) + " ended: the task is gone"
	case ClearedStatusChanged:
		return ConditionLabel(a.Condition, esc(a.Status)) + " ended: the status changed"
	}
	switch a.Condition {
	case ProgressStalled:
		return "full sync progressing again"
	case LagHigh:
		return "incremental lag back down: " + num(a.ClearedLag)
	case LagGrowing:
		return "incremental lag falling again: " + num(a.ClearedLag)
	}
	return ConditionLabel(a.Condition, esc(a.Status)) + " ended"
}

// ConditionLabel names a condition for people: "stalled full sync", "high
// lag", "growing lag", "long time in RUNNING" (status already escaped as
// the caller needs).
func ConditionLabel(condition, status string) string {
	switch condition {
	case ProgressStalled:
		return "stalled full sync"
	case LagHigh:
		return "high lag"
	case LagGrowing:
		return "growing lag"
	case StatusTooLong:
		if status == "" {
			return "long time in one status"
		}
		return "long time in " + status
	}
	return condition
}

// ShortDuration writes d without its zero tail: "1h", "15m", "1h30m",
// "45s".
func ShortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func num(p *int64) string {
	if p == nil {
		return "?"
	}
	return strconv.FormatInt(*p, 10)
}
