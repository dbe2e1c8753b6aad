package dcs

import (
	"bytes"
	"encoding/json"
	"strings"
)

// The fast path. Most answers are what the document says: strings where it
// documents strings, one boolean, no nulls. Those decode straight into typed
// structs, with a fraction of the allocations of the generic walk (which,
// once connections were reused, led the poller's CPU profile). Any other
// answer (a null anywhere, a number where a string is documented, a wrong
// shape, trailing data, a missing id) fails here and is read by the generic
// walk, which tolerates or names it. The one difference: encoding/json
// matches keys regardless of case, so "Task_Id" is read as task_id here.

type fastInstance struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Addrs        string `json:"addrs"`
	IP           string `json:"ip"`
	Port         string `json:"port"`
	DB           string `json:"db"`
	ProxyMultiDB bool   `json:"proxy_multi_db"`
	TaskStatus   string `json:"task_status"`
	Status       string `json:"status"`
	// Password is read only to learn whether one is set.
	Password string `json:"password"`
}

func (in fastInstance) instance() Instance {
	return Instance{
		ID: in.ID, Name: in.Name, Addrs: in.Addrs, IP: in.IP, Port: in.Port, DB: in.DB,
		ProxyMultiDB: in.ProxyMultiDB, TaskStatus: in.TaskStatus, Status: in.Status,
		PasswordSet: in.Password != "",
	}
}

type fastBackupFiles struct {
	FileSource string `json:"file_source"`
	BucketName string `json:"bucket_name"`
	BackupID   string `json:"backup_id"`
	Files      []struct {
		Name     string `json:"file_name"`
		Size     string `json:"size"`
		UpdateAt string `json:"update_at"`
	} `json:"files"`
}

// fastCommon is what the detail object and a list row share.
type fastCommon struct {
	ID                 string   `json:"task_id"`
	Name               string   `json:"task_name"`
	Description        string   `json:"description"`
	Status             string   `json:"status"`
	MigrationType      string   `json:"migration_type"`
	MigrationMethod    string   `json:"migration_method"`
	ECSTenantPrivateIP string   `json:"ecs_tenant_private_ip"`
	ResumeMode         string   `json:"resume_mode"`
	SupportedFeatures  []string `json:"supported_features"`
	Version            string   `json:"version"`
	CreatedAt          string   `json:"created_at"`
	ReleasedAt         string   `json:"released_at"`
	ErrorMessage       string   `json:"error_message"`
}

func (c *fastCommon) task() Task {
	t := Task{
		ID: c.ID, Name: c.Name, Description: c.Description, Status: c.Status,
		MigrationType: c.MigrationType, MigrationMethod: c.MigrationMethod,
		ECSTenantPrivateIP: c.ECSTenantPrivateIP, ResumeMode: c.ResumeMode,
		Version: c.Version, CreatedAt: c.CreatedAt, ReleasedAt: c.ReleasedAt,
		ErrorMessage: c.ErrorMessage,
	}
	if len(c.SupportedFeatures) > 0 { // empty is nil, as the generic walk makes it
		t.SupportedFeatures = c.SupportedFeatures
	}
	return t
}

type fastDetail struct {
	fastCommon
	TaskStatus            string           `json:"task_status"`
	NetworkType           string           `json:"network_type"`
	TenantVPCID           string           `json:"tenant_vpc_id"`
	TenantSubnetID        string           `json:"tenant_subnet_id"`
	TenantSecurityGroupID string           `json:"tenant_security_group_id"`
	BandwidthLimitMB      string           `json:"bandwidth_limit_mb"`
	UpdatedAt             string           `json:"updated_at"`
	BackupFiles           *fastBackupFiles `json:"backup_files"`
	Source                fastInstance     `json:"source_instance"`
	Target                fastInstance     `json:"target_instance"`
}

type fastRow struct {
	fastCommon
	SourceID     string `json:"source_instance_id"`
	SourceName   string `json:"source_instance_name"`
	SourceAddrs  string `json:"source_instance_addrs"`
	SourceStatus string `json:"source_instance_status"`
	DataSource   string `json:"data_source"`
	TargetID     string `json:"target_instance_id"`
	TargetName   string `json:"target_instance_name"`
	TargetAddrs  string `json:"target_instance_addrs"`
	TargetStatus string `json:"target_instance_status"`
}

type fastList struct {
	Count          *int      `json:"count"`
	MigrationTasks []fastRow `json:"migration_tasks"`
}

var null = []byte("null")

// fastDetailTask decodes a plain detail answer; ok is false when the
// generic walk must read it.
func fastDetailTask(body []byte) (t Task, ok bool) {
	if bytes.Contains(body, null) {
		return Task{}, false
	}
	var d fastDetail
	if json.Unmarshal(body, &d) != nil || strings.TrimSpace(d.ID) == "" {
		return Task{}, false
	}
	t = d.task()
	t.TaskStatus, t.NetworkType = d.TaskStatus, d.NetworkType
	t.TenantVPCID, t.TenantSubnetID, t.TenantSecurityGroupID = d.TenantVPCID, d.TenantSubnetID, d.TenantSecurityGroupID
	t.BandwidthLimitMB, t.UpdatedAt = d.BandwidthLimitMB, d.UpdatedAt
	t.Source, t.Target = d.Source.instance(), d.Target.instance()
	if b := d.BackupFiles; b != nil {
		t.BackupFiles = &BackupFiles{FileSource: b.FileSource, BucketName: b.BucketName, BackupID: b.BackupID}
		for _, f := range b.Files {
			t.BackupFiles.Files = append(t.BackupFiles.Files, BackupFile{Name: f.Name, Size: f.Size, UpdateAt: f.UpdateAt})
		}
	}
	return t, true
}

// fastListRows decodes a plain list answer; ok is false when the generic
// walk must read it.
func fastListRows(body []byte) (rows []Task, count int, ok bool) {
	if bytes.Contains(body, null) {
		return nil, 0, false
	}
	var l fastList
	if json.Unmarshal(body, &l) != nil || l.Count != nil && *l.Count < 0 || l.MigrationTasks == nil {
		return nil, 0, false
	}
	count = -1
	if l.Count != nil {
		count = *l.Count
	}
	rows = make([]Task, 0, len(l.MigrationTasks))
	for i := range l.MigrationTasks {
		r := &l.MigrationTasks[i]
		if strings.TrimSpace(r.ID) == "" {
			return nil, 0, false
		}
		t := r.task()
		t.Source = Instance{ID: r.SourceID, Name: r.SourceName, Addrs: r.SourceAddrs, Status: r.SourceStatus}
		if t.Source.Addrs == "" {
			t.Source.Addrs = r.DataSource
		}
		t.Target = Instance{ID: r.TargetID, Name: r.TargetName, Addrs: r.TargetAddrs, Status: r.TargetStatus}
		rows = append(rows, t)
	}
	return rows, count, true
}
