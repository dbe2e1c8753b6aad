package event

import "time"

// Task is a migration task as the watcher last saw it (Data.Snapshot): the
// detail object of GET /v2/{project_id}/migration-task/{task_id} with every
// password replaced by PasswordSet. All values are strings as the API
// documents them (numbers that arrive as JSON numbers are converted); a
// missing or null field is "". Times are kept as the API wrote them.
type Task struct {
	ID                    string       `json:"task_id"`
	Name                  string       `json:"task_name"`
	Description           string       `json:"description,omitempty"`
	Status                string       `json:"status"`
	TaskStatus            string       `json:"task_status,omitempty"`
	MigrationType         string       `json:"migration_type,omitempty"`
	MigrationMethod       string       `json:"migration_method,omitempty"`
	NetworkType           string       `json:"network_type,omitempty"`
	ECSTenantPrivateIP    string       `json:"ecs_tenant_private_ip,omitempty"`
	ResumeMode            string       `json:"resume_mode,omitempty"`
	SupportedFeatures     []string     `json:"supported_features,omitempty"`
	TenantVPCID           string       `json:"tenant_vpc_id,omitempty"`
	TenantSubnetID        string       `json:"tenant_subnet_id,omitempty"`
	TenantSecurityGroupID string       `json:"tenant_security_group_id,omitempty"`
	BandwidthLimitMB      string       `json:"bandwidth_limit_mb,omitempty"`
	Version               string       `json:"version,omitempty"`
	CreatedAt             string       `json:"created_at,omitempty"`
	UpdatedAt             string       `json:"updated_at,omitempty"`
	ReleasedAt            string       `json:"released_at,omitempty"`
	ErrorMessage          string       `json:"error_message,omitempty"` // the failure reason, while the status is a failure
	BackupFiles           *BackupFiles `json:"backup_files,omitempty"`
	Source                Instance     `json:"source_instance"`
	Target                Instance     `json:"target_instance"`
}

// Instance is a source or target Redis of a task, without its password.
type Instance struct {
	ID           string `json:"id,omitempty"`
	Name         string `json:"name,omitempty"`
	Addrs        string `json:"addrs,omitempty"`
	IP           string `json:"ip,omitempty"`
	Port         string `json:"port,omitempty"`
	DB           string `json:"db,omitempty"`
	ProxyMultiDB bool   `json:"proxy_multi_db,omitempty"`
	TaskStatus   string `json:"task_status,omitempty"`
	// Status is the instance status of a list row (source_instance_status).
	Status      string `json:"status,omitempty"`
	PasswordSet bool   `json:"password_set,omitempty"`
}

// BackupFiles describes the files of a backup import.
type BackupFiles struct {
	FileSource string       `json:"file_source,omitempty"`
	BucketName string       `json:"bucket_name,omitempty"`
	BackupID   string       `json:"backup_id,omitempty"`
	Files      []BackupFile `json:"files,omitempty"`
}

// BackupFile is one file of a backup import.
type BackupFile struct {
	Name     string `json:"file_name,omitempty"`
	Size     string `json:"size,omitempty"`
	UpdateAt string `json:"update_at,omitempty"`
}

// NormStatus is the task's status in canonical spelling.
func (t *Task) NormStatus() Status { return Normalize(t.Status) }

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
