package notify

import (
	"time"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
)

// The envelope's types are the event contract's (package event): what
// Build makes is what a consumer's event.Decode reads.
type (
	// Envelope is a CloudEvents 1.0 event in structured JSON mode: the
	// message body published to JetStream and read by the Slack notifier
	// and any other consumer.
	Envelope = event.Envelope
	// Data is the payload of an Envelope.
	Data = event.Data
	// Progress is a task's last answer of the stats call, when it came,
	// and the rate of Percent the watcher observed.
	Progress = event.Progress
	// StatusInfo is a status as the API spelled it and as the watcher
	// reads it.
	StatusInfo = event.StatusInfo
)

// Task tokens of events about no task (event.NoTask...).
const (
	NoTask    = event.NoTask
	SlackTask = event.SlackTask
	StoreTask = event.StoreTask
)

// Meta is what an envelope needs beyond the diff event: where the task lives
// and when the change was observed.
type Meta struct {
	Region     string
	ProjectID  string
	ObservedAt time.Time
	// PrevStatusSince is when the previous status was first observed; zero
	// if unknown.
	PrevStatusSince time.Time
	// Gap, when set, says why the task went unobserved before this change
	// ("watcher restarted", "watcher was blind"): the status may have
	// passed through others meanwhile.
	Gap string
	// Delayed: the change was seen while the store was unreachable and is
	// published after it answered (the poller's journal).
	Delayed bool
	// Progress is the task's last progress: it goes into data.progress
	// when the event's status is active; it has no part in the event id.
	Progress *Progress
}

// Build wraps a diff event in a CloudEvents envelope published on a subject
// under prefix.
func Build(prefix string, ev diff.Event, m Meta) Envelope {
	snap := ev.Curr
	if snap == nil {
		snap = ev.Prev
	}
	d := Data{
		Kind:           ev.Kind,
		Scope:          ev.Scope,
		Region:         m.Region,
		ProjectID:      m.ProjectID,
		TaskID:         ev.TaskID,
		PreviousStatus: event.StatusOf(ev.Prev),
		CurrentStatus:  event.StatusOf(snap),
		Changes:        ev.Changes,
		Reason:         ev.Reason,
		Attention:      ev.Attention,
		LogTail:        ev.LogTail,
		LogTailError:   ev.LogTailError,
		Snapshot:       snap,
	}
	if snap != nil {
		d.TaskName = snap.Name
	}
	d.Outcome, d.Severity = event.Classify(ev.Kind, subjectStatus(ev))
	if ev.Kind == diff.StatusChanged && m.Gap != "" {
		d.MayHaveSkipped, d.Gap = true, m.Gap
	}
	if m.Delayed {
		at := m.ObservedAt.UTC()
		d.Delayed, d.ObservedAt = true, &at
	}
	if ev.Kind == diff.StatusChanged && !m.PrevStatusSince.IsZero() && m.ObservedAt.After(m.PrevStatusSince) {
		s := m.ObservedAt.Sub(m.PrevStatusSince).Seconds()
		d.PreviousStatusSeconds = &s
	}
	if m.Progress != nil && subjectStatus(ev).Phase() == dcs.PhaseActive {
		pr := *m.Progress
		pr.ObservedAt = pr.ObservedAt.UTC()
		d.Progress = &pr
	}
	return Envelope{
		SpecVersion:     event.SpecVersion,
		ID:              ev.ID,
		Source:          source(m.Region, m.ProjectID),
		Type:            event.TypeOf(ev.Kind),
		Subject:         taskToken(ev),
		NATSSubject:     NATSSubject(prefix, m.ProjectID, ev),
		Time:            m.ObservedAt.UTC(),
		DataContentType: event.DataContentType,
		Data:            d,
	}
}

// source is the CloudEvents source of a project's events.
func source(region, project string) string {
	if region == "" {
		region = "unknown"
	}
	return "dcs://" + region + "/projects/" + project
}

// NATSSubject is the subject an event is published on (event.Subject):
//
//	<prefix>.<project_id>.<task_id>.<kind>.<STATUS>.<outcome>
//
// STATUS is the task's current normalised status (the last known one for
// removed and watch_* events); outcome is the event's Outcome, so that
// "<prefix>.<project>.*.*.*.failed" is one subscription for every event
// about a failed task, whatever its spelling of failure.
func NATSSubject(prefix, project string, ev diff.Event) string {
	s := subjectStatus(ev)
	out, _ := event.Classify(ev.Kind, s)
	return event.Subject{Prefix: prefix, Project: project, Task: taskToken(ev), Kind: ev.Kind, Status: s, Outcome: out}.String()
}

// subjectStatus is the status an event's subject carries: the current
// one, else the last known; "" when there is none.
func subjectStatus(ev diff.Event) dcs.Status {
	if t := ev.Curr; t != nil && t.Status != "" {
		return t.NormStatus()
	}
	if t := ev.Prev; t != nil && t.Status != "" {
		return t.NormStatus()
	}
	return ""
}

// taskToken is the event's task id, or what stands for it in an event
// about no task.
func taskToken(ev diff.Event) string {
	switch {
	case ev.TaskID != "":
		return ev.TaskID
	case ev.Scope == diff.ScopeSlack:
		return SlackTask
	case ev.Scope == diff.ScopeStore:
		return StoreTask
	}
	return NoTask
}
