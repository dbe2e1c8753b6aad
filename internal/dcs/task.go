package dcs

import "strings"

// Task is the watcher's view of a migration task: the detail object of
// GET /v2/{project_id}/migration-task/{task_id} with every password replaced
// by PasswordSet. All values are strings as the API documents them (numbers
// that arrive as JSON numbers are converted); a missing or null field is "".
// Times are kept raw; parseTime reads them.
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

// DropStaleReason clears error_message unless the status is one a failure
// reason belongs to (Status.hasReason): the API may keep a failure's
// message on a task restarted since, and a recovery must not show it.
func (t *Task) DropStaleReason() {
	if !t.NormStatus().hasReason() {
		t.ErrorMessage = ""
	}
}

// KeepNulls copies from prev every field whose path the API sent as null
// (Info.Nulls): a null says nothing about the field, so it must not read as
// a change to "". A field left out altogether is taken as empty, as the
// document's optional fields are. Objects sent as null keep prev's object.
func (t *Task) KeepNulls(prev *Task, nulls []string) {
	if prev == nil {
		return
	}
	for _, path := range nulls {
		if p, q := t.stringField(path), prev.stringField(path); p != nil && q != nil {
			*p = *q
			continue
		}
		switch path {
		case "source_instance":
			t.Source = prev.Source
		case "target_instance":
			t.Target = prev.Target
		case "backup_files":
			t.BackupFiles = prev.BackupFiles
		case "supported_features":
			t.SupportedFeatures = prev.SupportedFeatures
		case "source_instance.proxy_multi_db":
			t.Source.ProxyMultiDB = prev.Source.ProxyMultiDB
		case "target_instance.proxy_multi_db":
			t.Target.ProxyMultiDB = prev.Target.ProxyMultiDB
		}
	}
}

// stringField returns the string field at a JSON path, nil if there is none.
func (t *Task) stringField(path string) *string {
	if in, rest, ok := strings.Cut(path, "."); ok {
		switch in {
		case "source_instance":
			return t.Source.stringField(rest)
		case "target_instance":
			return t.Target.stringField(rest)
		}
		return nil
	}
	switch path {
	case "task_name":
		return &t.Name
	case "description":
		return &t.Description
	case "status":
		return &t.Status
	case "task_status":
		return &t.TaskStatus
	case "migration_type":
		return &t.MigrationType
	case "migration_method":
		return &t.MigrationMethod
	case "network_type":
		return &t.NetworkType
	case "ecs_tenant_private_ip":
		return &t.ECSTenantPrivateIP
	case "resume_mode":
		return &t.ResumeMode
	case "tenant_vpc_id":
		return &t.TenantVPCID
	case "tenant_subnet_id":
		return &t.TenantSubnetID
	case "tenant_security_group_id":
		return &t.TenantSecurityGroupID
	case "bandwidth_limit_mb":
		return &t.BandwidthLimitMB
	case "version":
		return &t.Version
	case "created_at":
		return &t.CreatedAt
	case "updated_at":
		return &t.UpdatedAt
	case "released_at":
		return &t.ReleasedAt
	}
	return nil
}

func (in *Instance) stringField(name string) *string {
	switch name {
	case "id":
		return &in.ID
	case "name":
		return &in.Name
	case "addrs":
		return &in.Addrs
	case "ip":
		return &in.IP
	case "port":
		return &in.Port
	case "db":
		return &in.DB
	case "task_status":
		return &in.TaskStatus
	}
	return nil
}
