package dcs

// Task is the watcher's view of a migration task: the detail object of
// GET /v2/{project_id}/migration-task/{task_id} with every password replaced
// by PasswordSet. All values are strings as the API documents them (numbers
// that arrive as JSON numbers are converted); a missing or null field is "".
// Times are kept raw; ParseTime reads them.
//
// Task is a value type: copies share nothing but the slices, which nobody
// modifies after decoding.
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
	ErrorMessage          string       `json:"error_message,omitempty"` // list rows only
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
