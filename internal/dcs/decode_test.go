package dcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// fuzzPassword is planted into fuzzed bodies; it must never come out.
const fuzzPassword = "FuzzPlantedPw-9f8e7d6c"

func TestDecodeListRows(t *testing.T) {
	body := `{"count":"2","migration_tasks":[
		{"task_id":"t1","task_name":"n1","status":"MIGRATING","migration_type":"online_migration",
		 "migration_method":"incremental_migration","ecs_tenant_private_ip":"10.0.0.9",
		 "data_source":"192.168.0.1:6379","source_instance_name":"src","source_instance_id":"sid",
		 "source_instance_status":"RUNNING","source_instance_subnet_id":"sub","source_instance_spec_code":"spec",
		 "target_instance_addrs":"192.168.0.2:6379","target_instance_name":"dst","target_instance_id":"tid",
		 "target_instance_status":"RUNNING","created_at":"2024/01/02 03:04:05","description":"d",
		 "error_message":"","released_at":"","version":"v1","resume_mode":"auto","supported_features":["f"]},
		{"task_id":"t2","status":"FAILED","error_message":"source unreachable","source_instance_addrs":"1.2.3.4:6379","data_source":"ignored"}
	]}`
	rows, count, err := decodeList([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if count != 2 || len(rows) != 2 {
		t.Fatalf("count %d, %d rows", count, len(rows))
	}
	want0 := Task{ID: "t1", Name: "n1", Status: "MIGRATING", MigrationType: "online_migration",
		MigrationMethod: "incremental_migration", ECSTenantPrivateIP: "10.0.0.9", Description: "d",
		CreatedAt: "2024/01/02 03:04:05", Version: "v1", ResumeMode: "auto", SupportedFeatures: []string{"f"},
		Source: Instance{ID: "sid", Name: "src", Addrs: "192.168.0.1:6379", Status: "RUNNING"},
		Target: Instance{ID: "tid", Name: "dst", Addrs: "192.168.0.2:6379", Status: "RUNNING"}}
	if fmt.Sprintf("%#v", rows[0]) != fmt.Sprintf("%#v", want0) {
		t.Errorf("row 0\n got %#v\nwant %#v", rows[0], want0)
	}
	if rows[1].ErrorMessage != "source unreachable" || rows[1].Source.Addrs != "1.2.3.4:6379" {
		t.Errorf("row 1 = %#v", rows[1])
	}
}

func TestDecodeListShapes(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantCount int
		wantRows  int
		wantErr   string
	}{
		{"count as number", `{"count":3,"migration_tasks":[{"task_id":"a"}]}`, 3, 1, ""},
		{"count missing", `{"migration_tasks":[{"task_id":"a"}]}`, -1, 1, ""},
		{"tasks empty", `{"count":0,"migration_tasks":[]}`, 0, 0, ""},
		{"tasks null", `{"count":0,"migration_tasks":null}`, 0, 0, "migration_tasks: want array, got null"},
		{"tasks missing", `{"count":0}`, 0, 0, "migration_tasks: want array, got null"},
		{"empty object", `{}`, 0, 0, "migration_tasks: want array, got null"},
		{"count negative", `{"count":-1}`, 0, 0, "count: not a non-negative integer"},
		{"count fraction", `{"count":1.5}`, 0, 0, "count: not a non-negative integer"},
		{"count object", `{"count":{}}`, 0, 0, "count: want integer, got object"},
		{"tasks object", `{"count":1,"migration_tasks":{}}`, 0, 0, "migration_tasks: want array, got object"},
		{"row a string", `{"count":1,"migration_tasks":["x"]}`, 0, 0, "migration_tasks[0]: want object, got string"},
		{"row without id", `{"count":2,"migration_tasks":[{"task_id":"a"},{"task_name":"b"}]}`, 0, 0, "migration_tasks[1]: task_id missing"},
		{"row field wrong", `{"count":1,"migration_tasks":[{"task_id":"a","source_instance_status":[]}]}`, 0, 0, "migration_tasks[0].source_instance_status: want string, got array"},
		{"not an object", `[]`, 0, 0, "body: want object, got array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, count, err := decodeList([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || count != tt.wantCount || len(rows) != tt.wantRows {
				t.Fatalf("got %d rows, count %d, err %v", len(rows), count, err)
			}
		})
	}
}

func TestDecodeErrorBody(t *testing.T) {
	tests := []struct {
		body string
		want apiErrorBody
	}{
		{`{"error_code":"DCS.4133","error_msg":"gone","error_ext_msg":null}`, apiErrorBody{Code: "DCS.4133", Message: "gone"}},
		{`{"error_code":"APIGW.0308","error_msg":"slow down","request_id":"r"}`, apiErrorBody{Code: "APIGW.0308", Message: "slow down", RequestID: "r"}},
		{`{"error":{"code":"IAM.0001","message":"bad token"}}`, apiErrorBody{Code: "IAM.0001", Message: "bad token"}},
		{`<html>oops</html>`, apiErrorBody{}},
		{`{"error_code":{"x":1}}`, apiErrorBody{}},
	}
	for _, tt := range tests {
		if got := decodeErrorBody([]byte(tt.body)); got != tt.want {
			t.Errorf("decodeErrorBody(%s) = %+v, want %+v", tt.body, got, tt.want)
		}
	}
}

func TestDecodeErrorsNameNoValue(t *testing.T) {
	var de *decodeError
	_, err := decodeTask([]byte(`{"task_id":"t1","source_instance":{"password":["` + fuzzPassword + `"]}}`))
	if !errors.As(err, &de) || de.Path != "source_instance.password" {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), fuzzPassword) {
		t.Errorf("error quotes the password: %v", err)
	}
}

// FuzzDecodeTask: the decoder never panics, and a password planted into any
// decodable body never comes out, neither in the Task nor in an error.
func FuzzDecodeTask(f *testing.F) {
	f.Add([]byte(exampleResponse))
	f.Add([]byte(`{"task_id":1,"source_instance":{"port":6379,"proxy_multi_db":"1","password":7},"backup_files":{"files":[{"size":1e3}]}}`))
	f.Add([]byte(`{"task_id":"x","supported_features":[null,true,1],"target_instance":null}`))
	f.Add([]byte(`{"count":"2","migration_tasks":[{"task_id":"a","data_source":"x"}]}`))
	f.Add([]byte(`[{"task_id":"x"}]`))
	f.Add([]byte(`{"task_id":"x","source_instance":"s"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		task, err := decodeTask(body)
		_, _, _ = decodeList(body)
		if err == nil && strings.TrimSpace(task.ID) == "" {
			t.Fatal("decoded a task without id")
		}
		if bytes.Contains(body, []byte(fuzzPassword)) {
			return
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil || m == nil {
			return
		}
		planted := false
		for _, k := range []string{"source_instance", "target_instance"} {
			if in, ok := m[k].(map[string]any); ok {
				in["password"] = fuzzPassword
				planted = true
			}
		}
		if !planted {
			return
		}
		b2, err := json.Marshal(m)
		if err != nil {
			return
		}
		task, err = decodeTask(b2)
		out, _ := json.Marshal(task)
		text := string(out) + fmt.Sprintf("%#v %+v", task, task)
		if err != nil {
			text += err.Error()
		}
		if strings.Contains(text, fuzzPassword) {
			t.Fatalf("password leaked: %s", text)
		}
		if err == nil && !task.Source.PasswordSet && !task.Target.PasswordSet {
			t.Fatal("planted password not reported as set")
		}
	})
}

// TestDecodeRoundTrip: a decoded Task is the same after a JSON round trip
// (as a stored snapshot is), whether lists came empty, null or missing.
func TestDecodeRoundTrip(t *testing.T) {
	for _, body := range []string{
		exampleResponse,
		`{"task_id":"t1","supported_features":[],"backup_files":{"files":[]}}`,
		`{"task_id":"t1","supported_features":null,"backup_files":{"files":null}}`,
		`{"task_id":"t1","supported_features":["a"],"backup_files":{"file_source":"backup_record","files":[{"file_name":"x","size":1}]}}`,
	} {
		task, err := decodeTask([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(task)
		var back Task
		if err := json.Unmarshal(j, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(task, back) {
			t.Errorf("round trip changed the task:\n got %#v\nwant %#v", back, task)
		}
	}
}
