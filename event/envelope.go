package event

import "time"

// The fixed parts of every envelope.
const (
	SpecVersion     = "1.0"
	DataContentType = "application/json"
	// TypePrefix and Version frame the CloudEvents type of a kind:
	// TypePrefix + kind + "." + Version. Version changes only with a
	// breaking change of the schema (see the package doc).
	TypePrefix = "com.huaweicloud.dcs.migration."
	Version    = "v1"
)

// TypeOf is the CloudEvents type of events of kind k.
func TypeOf(k Kind) string { return TypePrefix + string(k) + "." + Version }

// Envelope is a CloudEvents 1.0 event in structured JSON mode: the body of
// every message of the stream. docs/event.schema.json is its JSON Schema.
type Envelope struct {
	SpecVersion string `json:"specversion"`
	// ID is deterministic (project, task, kind, the snapshot revision the
	// change was seen against, its content): the same change told twice
	// has the same id, and it is the message's Nats-Msg-Id. Dedupe by it.
	ID string `json:"id"`
	// Source names region and project: "dcs://<region>/projects/<project>".
	Source string `json:"source"`
	// Type is TypeOf(Data.Kind).
	Type string `json:"type"`
	// Subject is the task the event is about (its id; "_api" for the
	// API as a whole, "_slack" for the Slack delivery, "_store" for the
	// watcher's store), as CloudEvents means it.
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            Data      `json:"data"`
	// NATSSubject is the subject the message is published on (see
	// Subject.String); it is not part of the body: the watcher sets it
	// when it builds an event, Decode leaves it empty, and a consumer
	// reads it off the message if it needs it.
	NATSSubject string `json:"-"`
}

// Data is the payload of an Envelope.
type Data struct {
	Kind Kind `json:"kind"`
	// Outcome and Severity are the watcher's reading of the kind and the
	// status (docs/events.md, "Outcome and severity"); Outcome is also the
	// subject's last token. Always set by this version; absent from older
	// events.
	Outcome   Outcome  `json:"outcome,omitempty"`
	Severity  Severity `json:"severity,omitempty"`
	Scope     string   `json:"scope,omitempty"`
	Region    string   `json:"region,omitempty"`
	ProjectID string   `json:"project_id"`
	TaskID    string   `json:"task_id"`
	TaskName  string   `json:"task_name,omitempty"`
	// PreviousStatus is absent on first sight; CurrentStatus is the last
	// known status for removed and watch_* events.
	PreviousStatus *StatusInfo   `json:"previous_status,omitempty"`
	CurrentStatus  *StatusInfo   `json:"current_status,omitempty"`
	Changes        []FieldChange `json:"changes,omitempty"`
	// PreviousStatusSeconds is how long the task was seen in its previous
	// status (from the first observation of it to this one).
	PreviousStatusSeconds *float64 `json:"previous_status_seconds,omitempty"`
	// Reason says why the watcher is blind (watch_degraded) or was
	// (watch_recovered): an error class and a message; open text.
	Reason string `json:"reason,omitempty"`
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
	Attention *Attention `json:"attention,omitempty"`
	// LogTail is the task's last ERROR log lines (newest first, at most
	// 5, secrets shown as <secret>) with a failure or a stall;
	// LogTailError the error class of a log call that failed instead.
	LogTail      []LogEntry `json:"log_tail,omitempty"`
	LogTailError string     `json:"log_tail_error,omitempty"`
	// Snapshot is the task as last seen, passwords dropped.
	Snapshot *Task `json:"snapshot,omitempty"`
	// Progress is the task's last observed progress, in the events of a
	// task in an active status; absent until its first stats call.
	Progress *Progress `json:"progress,omitempty"`
	// Heartbeat is the body of a heartbeat event (kind Heartbeat), absent
	// from every other kind.
	Heartbeat *HeartbeatData `json:"heartbeat,omitempty"`
}

// FieldChange is one field that differs between two snapshots. Field is the
// JSON path of the field in Task ("source_instance.task_status").
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Progress is a task's last answer of the stats call, when it came, and
// the rate of Percent the watcher observed.
type Progress struct {
	Stats
	ObservedAt time.Time `json:"observed_at"`
	// PercentPerMinute is how fast Percent moved, from the first
	// observation the watcher kept of the task to ObservedAt; absent with
	// a single observation and when the percentage went back (the
	// observations then start again).
	PercentPerMinute *float64 `json:"percent_per_minute,omitempty"`
}

// StatusInfo is a status as the API spelled it and as the watcher read it.
type StatusInfo struct {
	Raw        string `json:"raw"`
	Normalized string `json:"normalized"`
	Phase      Phase  `json:"phase"`
	Known      bool   `json:"known"`
}

// StatusOf is the StatusInfo of t's status, nil for no task.
func StatusOf(t *Task) *StatusInfo {
	if t == nil {
		return nil
	}
	n := t.NormStatus()
	return &StatusInfo{Raw: t.Status, Normalized: string(n), Phase: n.Phase(), Known: n.Known()}
}

// Read reads si with this version's status model: raw is the status as
// the API spelled it (its canonical form when only that is there), norm
// its canonical form, whose Known and Phase are judged here, not taken
// from the envelope; ok is false when si holds no status.
func (si *StatusInfo) Read() (raw string, norm Status, ok bool) {
	if si == nil || (si.Raw == "" && si.Normalized == "") {
		return "", "", false
	}
	norm = Status(si.Normalized)
	if norm == "" {
		norm = Normalize(si.Raw)
	}
	raw = si.Raw
	if raw == "" {
		raw = string(norm)
	}
	return raw, norm, true
}

// Attention is one episode of a condition of a task: Data.Attention of its
// stalled and resumed events. The figures are those that opened it (a
// resumed event carries the opening figures too, and the clearing ones
// under Cleared*).
type Attention struct {
	Condition string `json:"condition"`
	// Episode numbers the task's episodes (of any condition): a stalled
	// and its resumed share it, and a second stall over the same snapshot
	// is a new event, not a duplicate.
	Episode uint64    `json:"episode"`
	Since   time.Time `json:"since"`
	// Percent is the full-migration progress that stopped moving.
	Percent *float64 `json:"percent,omitempty"`
	// Lag is the lag that opened the episode; LagFrom the first lag of the
	// window it grew over (lag_growing); MaxLag the limit (lag_high).
	Lag     *int64 `json:"lag,omitempty"`
	LagFrom *int64 `json:"lag_from,omitempty"`
	MaxLag  *int64 `json:"max_lag,omitempty"`
	// Status is the status the task stays in (status_too_long) or was in
	// when the episode opened; AllowedSeconds the allowance or window
	// that was passed.
	Status         string  `json:"status,omitempty"`
	AllowedSeconds float64 `json:"allowed_seconds,omitempty"`
	// ClearedAt and ClearedBy say when and why a resumed episode ended
	// (ClearedRecovered, ClearedStatusChanged, ClearedRemoved);
	// ClearedLag is the lag it cleared at.
	ClearedAt  *time.Time `json:"cleared_at,omitempty"`
	ClearedBy  string     `json:"cleared_by,omitempty"`
	ClearedLag *int64     `json:"cleared_lag,omitempty"`
}
