package dcs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// errMissingTaskID: a detail answer or a list row without task_id cannot be
// tracked; skipping a row would make its task look removed.
var errMissingTaskID = errors.New("task_id missing or empty")

// decodeTask decodes the body of the detail call.
func decodeTask(body []byte) (Task, error) {
	t, _, err := decodeTaskNulls(body)
	return t, err
}

// decodeTaskNulls decodes the body of the detail call and also returns the
// paths of the fields that were an explicit null.
func decodeTaskNulls(body []byte) (Task, []string, error) {
	if t, ok := fastDetailTask(body); ok {
		if err := checkText(&t); err != nil {
			return Task{}, nil, err
		}
		return t, nil, nil
	}
	t, f, err := decodeDetail(body)
	if err == nil {
		err = checkText(&t)
	}
	if err != nil {
		return Task{}, nil, err
	}
	return t, *f.nulls, nil
}

func decodeDetail(body []byte) (Task, *fields, error) {
	m, err := parseObject(body)
	if err != nil {
		return Task{}, nil, err
	}
	f := newFields(m)
	t := taskCommon(f)
	t.TaskStatus = f.str("task_status")
	t.NetworkType = f.str("network_type")
	t.TenantVPCID = f.str("tenant_vpc_id")
	t.TenantSubnetID = f.str("tenant_subnet_id")
	t.TenantSecurityGroupID = f.str("tenant_security_group_id")
	t.BandwidthLimitMB = f.str("bandwidth_limit_mb")
	t.UpdatedAt = f.str("updated_at")
	t.BackupFiles = backupFiles(f.object("backup_files"))
	t.Source = instance(f.object("source_instance"))
	t.Target = instance(f.object("target_instance"))
	if err := f.Err(); err != nil {
		return Task{}, nil, err
	}
	if strings.TrimSpace(t.ID) == "" {
		return Task{}, nil, errMissingTaskID
	}
	return t, f, nil
}

// taskCommon reads the fields the detail object and a list row share.
func taskCommon(f *fields) Task {
	return Task{
		ID:                 f.str("task_id"),
		Name:               f.str("task_name"),
		Description:        f.str("description"),
		Status:             f.str("status"),
		MigrationType:      f.str("migration_type"),
		MigrationMethod:    f.str("migration_method"),
		ECSTenantPrivateIP: f.str("ecs_tenant_private_ip"),
		ResumeMode:         f.str("resume_mode"),
		SupportedFeatures:  f.strList("supported_features"),
		Version:            f.str("version"),
		CreatedAt:          f.str("created_at"),
		ReleasedAt:         f.str("released_at"),
		ErrorMessage:       f.str("error_message"),
	}
}

// instance reads source_instance or target_instance. The password is read
// only to learn whether one is set; it goes no further than this function.
func instance(f *fields) Instance {
	if f == nil {
		return Instance{}
	}
	in := Instance{
		ID:           f.str("id"),
		Name:         f.str("name"),
		Addrs:        f.str("addrs"),
		IP:           f.str("ip"),
		Port:         f.str("port"),
		DB:           f.str("db"),
		ProxyMultiDB: f.boolean("proxy_multi_db"),
		TaskStatus:   f.str("task_status"),
		Status:       f.str("status"),
		PasswordSet:  f.str("password") != "",
	}
	return in
}

func backupFiles(f *fields) *BackupFiles {
	if f == nil {
		return nil
	}
	b := &BackupFiles{
		FileSource: f.str("file_source"),
		BucketName: f.str("bucket_name"),
		BackupID:   f.str("backup_id"),
	}
	for i, v := range f.array("files") {
		ff := f.elem("files", i, v)
		if ff == nil {
			break
		}
		b.Files = append(b.Files, BackupFile{
			Name:     ff.str("file_name"),
			Size:     ff.str("size"),
			UpdateAt: ff.str("update_at"),
		})
	}
	return b
}

// decodeList decodes the body of the list call. count is -1 when the answer
// does not say.
func decodeList(body []byte) ([]Task, int, error) {
	rows, count, ok := fastListRows(body)
	if !ok {
		var err error
		if rows, count, err = genericList(body); err != nil {
			return nil, 0, err
		}
	}
	for i := range rows {
		if err := checkText(&rows[i]); err != nil {
			return nil, 0, fmt.Errorf("migration_tasks[%d].%w", i, err)
		}
	}
	return rows, count, nil
}

// genericList is decodeList's generic walk.
func genericList(body []byte) ([]Task, int, error) {
	m, err := parseObject(body)
	if err != nil {
		return nil, 0, err
	}
	f := newFields(m)
	count, err := listCount(m["count"])
	if err != nil {
		return nil, 0, err
	}
	// A list without its rows is no evidence that the tasks are gone: the
	// caller must not read it as an empty list.
	if m["migration_tasks"] == nil {
		return nil, 0, &decodeError{Path: "migration_tasks", Want: "array", Got: jsonType(m["migration_tasks"])}
	}
	arr := f.array("migration_tasks")
	rows := make([]Task, 0, len(arr))
	for i, v := range arr {
		rf := f.elem("migration_tasks", i, v)
		if rf == nil {
			break
		}
		t := listRow(rf)
		if err := f.Err(); err != nil {
			return nil, 0, err
		}
		if strings.TrimSpace(t.ID) == "" {
			return nil, 0, fmt.Errorf("migration_tasks[%d]: %w", i, errMissingTaskID)
		}
		rows = append(rows, t)
	}
	if err := f.Err(); err != nil {
		return nil, 0, err
	}
	return rows, count, nil
}

// listCount accepts a non-negative integer as a number or a string.
func listCount(v any) (int, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return -1, nil
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, &decodeError{Path: "count", Want: "integer", Got: jsonType(v)}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errors.New("count: not a non-negative integer")
	}
	return n, nil
}

// listRow maps a row of the list call (the SDK's MigrationTaskList) onto a
// Task: source_instance_* and target_instance_* go into Source and Target.
// The row names the source address data_source ("ip:port, or the bucket
// name"); source_instance_addrs wins if an answer has it.
func listRow(f *fields) Task {
	t := taskCommon(f)
	t.Source = Instance{
		ID:     f.str("source_instance_id"),
		Name:   f.str("source_instance_name"),
		Addrs:  f.str("source_instance_addrs"),
		Status: f.str("source_instance_status"),
	}
	if t.Source.Addrs == "" {
		t.Source.Addrs = f.str("data_source")
	}
	t.Target = Instance{
		ID:     f.str("target_instance_id"),
		Name:   f.str("target_instance_name"),
		Addrs:  f.str("target_instance_addrs"),
		Status: f.str("target_instance_status"),
	}
	return t
}

// apiErrorBody is what an error answer says about itself.
type apiErrorBody struct {
	Code, Message, RequestID string
}

// decodeErrorBody reads {"error_code","error_msg","request_id"} and the IAM
// style {"error":{"code","message"}}; anything else yields an empty result.
func decodeErrorBody(body []byte) apiErrorBody {
	m, err := parseObject(body)
	if err != nil {
		return apiErrorBody{}
	}
	f := newFields(m)
	e := apiErrorBody{Code: f.str("error_code"), Message: f.str("error_msg"), RequestID: f.str("request_id")}
	if e.Code == "" && e.Message == "" {
		if in, ok := m["error"].(map[string]any); ok {
			inner := f.child(in, "error")
			e.Code, e.Message = inner.str("code"), inner.str("message")
		}
	}
	return e
}
