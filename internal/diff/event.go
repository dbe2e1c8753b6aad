package diff

import "github.com/dcs-watcher/watcher/internal/dcs"

// Kind names what happened to a task.
type Kind string

// Event kinds. Their string values are part of the NATS contract: they appear
// in subjects and in the CloudEvents type.
const (
	Discovered        Kind = "discovered"          // first sight of a task
	StatusChanged     Kind = "status_changed"      // the task's (normalised) status changed
	TaskStatusChanged Kind = "task_status_changed" // a task_status changed: top level or an instance's
	Changed           Kind = "changed"             // other fields changed, no status did
	Removed           Kind = "removed"             // gone from the list, or DCS.4133
	WatchDegraded     Kind = "watch_degraded"      // the watcher cannot see a task (or the API)
	WatchRecovered    Kind = "watch_recovered"     // ... and now it can again
	Stalled           Kind = "stalled"             // an attention episode opens (attention.go)
	Resumed           Kind = "resumed"             // ... and clears
)

// Kinds lists every event kind, in the order a task meets them; config
// validates slack.kinds against it.
func Kinds() []Kind {
	return []Kind{Discovered, StatusChanged, TaskStatusChanged, Changed, Removed, WatchDegraded, WatchRecovered, Stalled, Resumed}
}

// Scopes of an event: what it is about, beyond its task.
const (
	// ScopeTask, ScopeSource and ScopeTarget say whose task_status a
	// TaskStatusChanged event is about: the task's or an instance's.
	ScopeTask   = "task"
	ScopeSource = "source_instance"
	ScopeTarget = "target_instance"
	// ScopeSlack is the scope of the WatchDegraded / WatchRecovered events
	// about the watcher's Slack delivery (a revoked webhook), not about a
	// task or the API.
	ScopeSlack = "slack"
	// ScopeStore is the scope of the WatchDegraded / WatchRecovered pair
	// that reports a JetStream store (the events stream, the snapshot
	// bucket) found missing under the running watcher and recreated.
	ScopeStore = "store"
)

// FieldChange is one field that differs between two snapshots. Field is the
// JSON path of the field in dcs.Task ("source_instance.task_status").
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Event is one meaningful change of a task. ID is deterministic: Diff and
// the other constructors hash the task id, kind, scope and the content of
// Prev and Curr (never a time); At stamps it with the project and the KV
// revision diffed against, which is the id an event is published with.
type Event struct {
	ID      string        `json:"id"`
	Kind    Kind          `json:"kind"`
	TaskID  string        `json:"task_id"`
	Scope   string        `json:"scope,omitempty"`
	Prev    *dcs.Task     `json:"previous,omitempty"`
	Curr    *dcs.Task     `json:"current,omitempty"`
	Changes []FieldChange `json:"changes,omitempty"`
	// Reason says why the watcher is blind (WatchDegraded) or was (WatchRecovered):
	// an error class and a message that holds no secret.
	Reason string `json:"reason,omitempty"`
	// Attention is the episode a Stalled or Resumed event opens or clears.
	Attention *Attention `json:"attention,omitempty"`
	// LogTail is the task's last ERROR lines, newest first, that the
	// poller fetched for a failure or a stall (messages scrubbed); it is
	// not part of the id. LogTailError is the error class of a log call
	// that failed instead.
	LogTail      []dcs.LogEntry `json:"log_tail,omitempty"`
	LogTailError string         `json:"log_tail_error,omitempty"`
}
