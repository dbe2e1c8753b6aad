package event

// Kind names what happened: Data.Kind, a token of the subject and of the
// CloudEvents type.
type Kind string

// Event kinds.
const (
	Discovered        Kind = "discovered"          // first sight of a task
	StatusChanged     Kind = "status_changed"      // the task's (normalised) status changed
	TaskStatusChanged Kind = "task_status_changed" // a task_status changed: top level or an instance's (Data.Scope)
	Changed           Kind = "changed"             // other fields changed, no status did
	Removed           Kind = "removed"             // gone: the API answers DCS.4133 or 404 for it
	WatchDegraded     Kind = "watch_degraded"      // the watcher cannot see a task, the API, its store or Slack
	WatchRecovered    Kind = "watch_recovered"     // ... and now it can again
	Stalled           Kind = "stalled"             // an attention episode opens (Data.Attention)
	Resumed           Kind = "resumed"             // ... and clears
)

// Kinds lists every kind this version emits, in the order a task meets
// them.
func Kinds() []Kind {
	return []Kind{Discovered, StatusChanged, TaskStatusChanged, Changed, Removed, WatchDegraded, WatchRecovered, Stalled, Resumed}
}

// Scopes (Data.Scope): what an event is about, beyond its task.
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

// Severity is how urgently an on-call engineer should look: Data.Severity.
type Severity string

// Severities of an event.
const (
	SeverityCritical Severity = "critical"
	SeverityWarning  Severity = "warning"
	SeverityInfo     Severity = "info"
)

// Severities lists every Severity, most urgent first.
func Severities() []Severity {
	return []Severity{SeverityCritical, SeverityWarning, SeverityInfo}
}

// Conditions of an attention episode (Attention.Condition): what makes a
// task need a look although its status says nothing new.
const (
	// ProgressStalled: full-migration progress has not moved for a while.
	ProgressStalled = "progress_stalled"
	// LagHigh: the incremental lag is above its limit.
	LagHigh = "lag_high"
	// LagGrowing: the incremental lag has grown over a whole window.
	LagGrowing = "lag_growing"
	// StatusTooLong: the task has been in one status beyond its allowance.
	StatusTooLong = "status_too_long"
)

// Conditions lists every condition, in the order the watcher judges them.
func Conditions() []string {
	return []string{ProgressStalled, LagHigh, LagGrowing, StatusTooLong}
}

// Reasons an episode clears (Attention.ClearedBy).
const (
	ClearedRecovered     = "recovered"
	ClearedStatusChanged = "status_changed"
	ClearedRemoved       = "removed"
)
