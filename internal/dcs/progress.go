package dcs

import "time"

// Stats is a task's progress: the answer of
// GET /v2/{project_id}/migration-task/{task_id}/stats. The API sends every
// number as a string (some deployments as a number); a field that is
// missing, null or unreadable is nil here, never a made-up zero.
type Stats struct {
	// Percent is full_migration_progress, 0..100.
	Percent *float64 `json:"percent,omitempty"`
	// Lag is offset: how far the target is behind the source in
	// incremental mode; 0 means in sync.
	Lag          *int64   `json:"lag,omitempty"`
	SourceDBSize *int64   `json:"source_dbsize,omitempty"`
	TargetDBSize *int64   `json:"target_dbsize,omitempty"`
	InputKbps    *float64 `json:"input_kbps,omitempty"`
	Ops          *int64   `json:"ops,omitempty"`
	Migrating    *bool    `json:"is_migrating,omitempty"`
}

// LogEntry is one line of a task's log: an element of migration_logs of
// GET /v2/{project_id}/migration-task/{task_id}/logs. Message holds the
// line as the API wrote it with every password- or key-looking value
// replaced by "<secret>".
type LogEntry struct {
	CreatedAt string    `json:"created_at,omitempty"` // raw, as the API wrote it
	Time      time.Time `json:"time,omitzero"`        // CreatedAt read; zero when unreadable
	Level     string    `json:"level,omitempty"`      // INFO, WARN, ERROR, DEBUG
	Message   string    `json:"message"`
	Code      string    `json:"code,omitempty"`
	Keywords  []string  `json:"keywords,omitempty"`
}

// LogQuery selects log lines: Level "" means every level; Limit 0 the
// API's default page.
type LogQuery struct {
	Level  string
	Offset int
	Limit  int
}
