package notify

import (
	"strings"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
)

// specVersion and the content type of every envelope.
const (
	specVersion     = "1.0"
	dataContentType = "application/json"
	typePrefix      = "com.huaweicloud.dcs.migration."
	typeSuffix      = ".v1"
	// NoTask is the task token of events about the API as a whole.
	NoTask = "_api"
	// SlackTask is the task token of events of scope diff.ScopeSlack, so
	// that "<prefix>.*._slack.>" selects them; StoreTask that of scope
	// diff.ScopeStore.
	SlackTask = "_slack"
	StoreTask = "_store"
	// noStatus is the status token when there is no known status.
	noStatus = "NONE"
)

// Envelope is a CloudEvents 1.0 event in structured JSON mode: the message
// body published to JetStream and read by the Slack notifier and any other
// consumer. docs/event.schema.json is its JSON Schema.
type Envelope struct {
	SpecVersion string `json:"specversion"`
	ID          string `json:"id"`
	Source      string `json:"source"`
	Type        string `json:"type"`
	// Subject is the task the event is about (its id; "_api" for the
	// API as a whole, "_slack" for the Slack delivery), as CloudEvents
	// means it.
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            Data      `json:"data"`
	// NATSSubject is where the event is published (see Subject); it is not
	// part of the body, a consumer reads it off the message.
	NATSSubject string `json:"-"`
}

// Data is the payload of an Envelope.
type Data struct {
	Kind diff.Kind `json:"kind"`
	// Outcome and Severity are Classify's reading of the kind and the
	// status (see the README's table); Outcome is also the subject's last
	// token. Always set by this version; absent from older events.
	Outcome   dcs.Outcome `json:"outcome,omitempty"`
	Severity  Severity    `json:"severity,omitempty"`
	Scope     string      `json:"scope,omitempty"`
	Region    string      `json:"region,omitempty"`
	ProjectID string      `json:"project_id"`
	TaskID    string      `json:"task_id"`
	TaskName  string      `json:"task_name,omitempty"`
	// PreviousStatus is absent on first sight; CurrentStatus is the last
	// known status for removed and watch_* events.
	PreviousStatus *StatusInfo        `json:"previous_status,omitempty"`
	CurrentStatus  *StatusInfo        `json:"current_status,omitempty"`
	Changes        []diff.FieldChange `json:"changes,omitempty"`
	// PreviousStatusSeconds is how long the task was seen in its previous
	// status (from the first observation of it to this one).
	PreviousStatusSeconds *float64 `json:"previous_status_seconds,omitempty"`
	Reason                string   `json:"reason,omitempty"`
	// MayHaveSkipped marks a status change seen after a time the watcher
	// could not observe the task (Gap says why): the task may have passed
	// through other statuses in between, which no event reports.
	MayHaveSkipped bool   `json:"may_have_skipped,omitempty"`
	Gap            string `json:"gap,omitempty"`
	// Delayed marks an event published late: its change was seen at
	// ObservedAt (the envelope's time too) while the store was
	// unreachable, and published once it answered.
	Delayed    bool       `json:"delayed,omitempty"`
	ObservedAt *time.Time `json:"observed_at,omitempty"`
	// Silenced is the id of the silence (or "window:<name>" of the
	// maintenance window) that held the event when it was published: it is
	// on the stream like any other, and not posted to Slack. It is not
	// part of the event's id.
	Silenced string `json:"silenced,omitempty"`
	// CatchUp is the id of the silence whose end this event reports: the
	// last event the silence hid of a task still failing or stalled when
	// it ended, published again (a new id, the time of the catch-up,
	// ObservedAt the time of the original) so that Slack is told once.
	CatchUp string `json:"catch_up,omitempty"`
	// Attention is the episode of a stalled or resumed event.
	Attention *diff.Attention `json:"attention,omitempty"`
	// LogTail is the task's last ERROR log lines (newest first, at most
	// 5, secrets shown as <secret>) with a failure or a stall;
	// LogTailError the error class of a log call that failed instead.
	LogTail      []dcs.LogEntry `json:"log_tail,omitempty"`
	LogTailError string         `json:"log_tail_error,omitempty"`
	// Snapshot is the task as last seen, passwords dropped.
	Snapshot *dcs.Task `json:"snapshot,omitempty"`
	// Progress is the task's last observed progress, in the events of a
	// task in an active status; absent until its first stats call.
	Progress *Progress `json:"progress,omitempty"`
}

// Progress is a task's last answer of the stats call, when it came, and
// the rate of Percent the watcher observed.
type Progress struct {
	dcs.Stats
	ObservedAt time.Time `json:"observed_at"`
	// PercentPerMinute is how fast Percent moved, from the first
	// observation this process kept of the task to ObservedAt; absent with
	// a single observation and when the percentage went back (the
	// observations then start again).
	PercentPerMinute *float64 `json:"percent_per_minute,omitempty"`
}

// StatusInfo is a status as the API spelled it and as the watcher reads it.
type StatusInfo struct {
	Raw        string    `json:"raw"`
	Normalized string    `json:"normalized"`
	Phase      dcs.Phase `json:"phase"`
	Known      bool      `json:"known"`
}

// Read reads si as this binary's status model does: raw is the status as
// the API spelled it (its canonical form when only that is there), norm
// its canonical form, whose Known and Phase are judged here, not taken
// from the envelope; ok is false when si holds no status.
func (si *StatusInfo) Read() (raw string, norm dcs.Status, ok bool) {
	if si == nil || (si.Raw == "" && si.Normalized == "") {
		return "", "", false
	}
	norm = dcs.Status(si.Normalized)
	if norm == "" {
		norm = dcs.Normalize(si.Raw)
	}
	raw = si.Raw
	if raw == "" {
		raw = string(norm)
	}
	return raw, norm, true
}

func statusInfo(t *dcs.Task) *StatusInfo {
	if t == nil {
		return nil
	}
	n := t.NormStatus()
	return &StatusInfo{Raw: t.Status, Normalized: string(n), Phase: n.Phase(), Known: n.Known()}
}

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
		PreviousStatus: statusInfo(ev.Prev),
		CurrentStatus:  statusInfo(snap),
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
	d.Outcome, d.Severity = Classify(ev.Kind, subjectStatus(ev))
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
		SpecVersion:     specVersion,
		ID:              ev.ID,
		Source:          source(m.Region, m.ProjectID),
		Type:            eventType(ev.Kind),
		Subject:         taskToken(ev),
		NATSSubject:     NATSSubject(prefix, m.ProjectID, ev),
		Time:            m.ObservedAt.UTC(),
		DataContentType: dataContentType,
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

// eventType is the CloudEvents type of an event kind.
func eventType(k diff.Kind) string { return typePrefix + string(k) + typeSuffix }

// NATSSubject is the subject an event is published on:
//
//	<prefix>.<project_id>.<task_id>.<kind>.<STATUS>.<outcome>
//
// STATUS is the task's current normalised status (the last known one for
// removed and watch_* events), NONE when there is none; outcome is the
// event's Outcome (succeeded, failed, stopped, in_progress, unknown), so
// that "<prefix>.<project>.*.*.*.failed" is one subscription for every
// event about a failed task, whatever its spelling of failure; the task token is
// _api for events about the API as a whole and _slack for those about the
// Slack delivery. Characters that NATS reserves ('.', '*', '>', spaces) are
// replaced by '_' in every token.
func NATSSubject(prefix, project string, ev diff.Event) string {
	task := taskToken(ev)
	s := subjectStatus(ev)
	status := noStatus
	if s != "" {
		status = string(s)
	}
	out, _ := Classify(ev.Kind, s)
	return prefix + "." + Token(project) + "." + Token(task) + "." + string(ev.Kind) + "." + Token(status) + "." + string(out)
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

// Token makes s safe as one NATS subject token.
func Token(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '.' || r == '*' || r == '>' || r <= ' ' || r == 0x7f:
			return '_'
		}
		return r
	}, s)
}
