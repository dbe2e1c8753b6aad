package diff

import (
	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/dcs"
)

// Kind names what happened to a task: the event contract's (event.Kind),
// so that what the watcher publishes is what consumers decode.
type Kind = event.Kind

// Event kinds. Their string values are part of the NATS contract: they appear
// in subjects and in the CloudEvents type.
const (
	Discovered        = event.Discovered
	StatusChanged     = event.StatusChanged
	TaskStatusChanged = event.TaskStatusChanged
	Changed           = event.Changed
	Removed           = event.Removed
	WatchDegraded     = event.WatchDegraded
	WatchRecovered    = event.WatchRecovered
	Stalled           = event.Stalled
	Resumed           = event.Resumed
)

// Kinds lists every event kind, in the order a task meets them; config
// validates slack.kinds against it.
func Kinds() []Kind { return event.Kinds() }

// Scopes of an event: what it is about, beyond its task (event.ScopeTask...).
const (
	ScopeTask   = event.ScopeTask
	ScopeSource = event.ScopeSource
	ScopeTarget = event.ScopeTarget
	ScopeSlack  = event.ScopeSlack
	ScopeStore  = event.ScopeStore
)

// FieldChange is one field that differs between two snapshots. Field is the
// JSON path of the field in dcs.Task ("source_instance.task_status").
type FieldChange = event.FieldChange

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
