package dcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The API documents every value as a string but sends numbers now and then,
// may leave out or null any field, and returns Redis passwords in plain text.
// The SDK's typed models fail on the first number where a string is
// documented, so bodies are read generically (json.Number keeps numbers
// exact) and walked field by field. Errors name the field path and the JSON
// type found, never a value: a value could be a password.

// decodeError says which field had the wrong shape.
type decodeError struct {
	Path string // e.g. "source_instance.port"; "" for the body itself
	Want string
	Got  string
}

func (e *decodeError) Error() string {
	where := e.Path
	if where == "" {
		where = "body"
	}
	return fmt.Sprintf("%s: want %s, got %s", where, e.Want, e.Got)
}

// errMissingTaskID: a detail answer or a list row without task_id cannot be
// tracked; skipping a row would make its task look removed.
var errMissingTaskID = errors.New("task_id missing or empty")

// parseObject reads a body that must be one JSON object.
func parseObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("body is not valid JSON: %s", jsonErrorText(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("body has data after the JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &decodeError{Want: "object", Got: jsonType(v)}
	}
	return m, nil
}

// jsonErrorText describes a syntax error by position only: encoding/json's
// messages can quote a piece of the input.
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return "malformed"
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fields reads the fields of one object. The first error anywhere in the
// body is kept in err, shared by the nested objects, so that a decoder reads
// like a list of assignments and is checked once at the end.
type fields struct {
	m    map[string]any
	path string
	err  *error
	// nulls collects the paths of fields sent as an explicit null.
	nulls *[]string
}

func newFields(m map[string]any) *fields { return &fields{m: m, err: new(error), nulls: new([]string)} }

func (f *fields) child(m map[string]any, path string) *fields {
	return &fields{m: m, path: path, err: f.err, nulls: f.nulls}
}

// get returns the value of key, noting an explicit null.
func (f *fields) get(key string) any {
	v, present := f.m[key]
	if present && v == nil {
		*f.nulls = append(*f.nulls, join(f.path, key))
	}
	return v
}

// Err returns the first error seen.
func (f *fields) Err() error { return *f.err }

func (f *fields) setErr(err error) {
	if *f.err == nil && err != nil {
		*f.err = err
	}
}

func (f *fields) fail(key, want string, v any) {
	f.setErr(&decodeError{Path: join(f.path, key), Want: want, Got: jsonType(v)})
}

// str accepts a string, a number (its decimal text), a boolean, or null.
func (f *fields) str(key string) string {
	v := f.get(key)
	s, ok := scalarText(v)
	if !ok {
		f.fail(key, "string", v)
	}
	return s
}

// scalarText renders a JSON scalar as text; ok is false for an object or an
// array.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return numberText(x), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// boolean accepts true/false, "true"/"false" (any case), 0/1 and "0"/"1",
// "" and null (false).
func (f *fields) boolean(key string) bool {
	v := f.m[key]
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case json.Number:
		switch x.String() {
		case "0":
			return false
		case "1":
			return true
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "", "false", "0":
			return false
		case "true", "1":
			return true
		}
	}
	f.fail(key, "boolean", v)
	return false
}

// object returns the fields of a nested object, nil if null or missing.
func (f *fields) object(key string) *fields {
	v := f.get(key)
	switch x := v.(type) {
	case nil:
		return nil
	case map[string]any:
		return f.child(x, join(f.path, key))
	}
	f.fail(key, "object", v)
	return nil
}

// array returns the elements of a nested array, nil if null or missing.
func (f *fields) array(key string) []any {
	v := f.get(key)
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	f.fail(key, "array", v)
	return nil
}

// strList accepts an array of string-like values, or null. An empty array
// gives nil, like null: a Task then survives a JSON round trip (omitempty)
// unchanged, and comparing snapshots sees no difference between the two.
func (f *fields) strList(key string) []string {
	arr := f.array(key)
	if len(arr) == 0 {
		return nil
	}
	out := make([]string, 0, len(arr))
	for i, v := range arr {
		s, ok := scalarText(v)
		if !ok {
			f.setErr(&decodeError{Path: fmt.Sprintf("%s[%d]", join(f.path, key), i), Want: "string", Got: jsonType(v)})
			return nil
		}
		out = append(out, s)
	}
	return out
}

// elem returns element i of an array as an object.
func (f *fields) elem(key string, i int, v any) *fields {
	p := fmt.Sprintf("%s[%d]", join(f.path, key), i)
	m, ok := v.(map[string]any)
	if !ok {
		f.setErr(&decodeError{Path: p, Want: "object", Got: jsonType(v)})
		return nil
	}
	return f.child(m, p)
}

// numberText renders a JSON number as decimal text: integers as written,
// exponents expanded (1.048576e6 -> "1048576") where float64 holds them.
func numberText(n json.Number) string {
	s := n.String()
	if !strings.ContainsAny(s, "eE") {
		return s
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return s
}

// decodeTask decodes the body of the detail call.
func decodeTask(body []byte) (Task, error) {
	t, _, err := decodeTaskNulls(body)
	return t, err
}

// decodeTaskNulls decodes the body of the detail call and also returns the
// paths of the fields that were an explicit null.
func decodeTaskNulls(body []byte) (Task, []string, error) {
	if t, ok := fastDetailTask(body); ok {
		return t, nil, nil
	}
	t, f, err := decodeDetail(body)
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
	if rows, count, ok := fastListRows(body); ok {
		return rows, count, nil
	}
	return genericList(body)
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
