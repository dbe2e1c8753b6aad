package dcs

import (
	"strings"

	"github.com/dcs-watcher/watcher/event"
)

// Task is the watcher's view of a migration task, passwords dropped: the
// event contract's type (event.Task), which snapshots and events carry as
// they are. Task is a value type: copies share nothing but the slices,
// which nobody modifies after decoding.
type Task = event.Task

// Instance is a source or target Redis of a task, without its password.
type Instance = event.Instance

// BackupFiles describes the files of a backup import.
type BackupFiles = event.BackupFiles

// BackupFile is one file of a backup import.
type BackupFile = event.BackupFile

// DropStaleReason clears t's error_message unless the status is one a
// failure reason belongs to (hasReason): the API may keep a failure's
// message on a task restarted since, and a recovery must not show it.
func DropStaleReason(t *Task) {
	if !hasReason(t.NormStatus()) {
		t.ErrorMessage = ""
	}
}

// KeepNulls copies into t from prev every field whose path the API sent as null
// (Info.Nulls): a null says nothing about the field, so it must not read as
// a change to "". A field left out altogether is taken as empty, as the
// document's optional fields are. Objects sent as null keep prev's object.
func KeepNulls(t, prev *Task, nulls []string) {
	if prev == nil {
		return
	}
	for _, path := range nulls {
		if p, q := stringField(t, path), stringField(prev, path); p != nil && q != nil {
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

// stringField returns t's string field at a JSON path, nil if there is none.
func stringField(t *Task, path string) *string {
	if in, rest, ok := strings.Cut(path, "."); ok {
		switch in {
		case "source_instance":
			return instanceField(&t.Source, rest)
		case "target_instance":
			return instanceField(&t.Target, rest)
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

func instanceField(in *Instance, name string) *string {
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

// StringFields points at every string field of t, the instances' too, in a
// fixed order: for a pass over all of them (the state cache packs them).
func StringFields(t *Task) [35]*string {
	return [...]*string{
		&t.ID, &t.Name, &t.Description, &t.Status, &t.TaskStatus, &t.MigrationType,
		&t.MigrationMethod, &t.NetworkType, &t.ECSTenantPrivateIP, &t.ResumeMode,
		&t.TenantVPCID, &t.TenantSubnetID, &t.TenantSecurityGroupID, &t.BandwidthLimitMB,
		&t.Version, &t.CreatedAt, &t.UpdatedAt, &t.ReleasedAt, &t.ErrorMessage,
		&t.Source.ID, &t.Source.Name, &t.Source.Addrs, &t.Source.IP, &t.Source.Port,
		&t.Source.DB, &t.Source.TaskStatus, &t.Source.Status,
		&t.Target.ID, &t.Target.Name, &t.Target.Addrs, &t.Target.IP, &t.Target.Port,
		&t.Target.DB, &t.Target.TaskStatus, &t.Target.Status,
	}
}

// ShareStrings points each string field of t that equals src's at src's
// copy, so that t's own can be collected: a list row held all cycle beside
// the stored snapshot it mostly equals then costs little more than its
// struct. The values do not change; t must be the caller's alone.
func ShareStrings(t, src *Task) {
	fs := StringFields(src)
	for i, f := range StringFields(t) {
		if *f == *fs[i] {
			*f = *fs[i]
		}
	}
}
