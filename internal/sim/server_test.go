package sim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
)

const project = "254d2280acb74d36a8b839746bcd7352"

// fleet is the scenario of the server tests: an online migration through
// its whole life, a backup import that appears late, fails and is deleted,
// and a task released after success.
const fleet = `
project_id: ` + project + `
tasks:
  - id: a276c1ffa0a54c2597fc824b917db317
    name: orders-cache-move
    migration_type: online_migration
    migration_method: incremental_migration
    network_type: vpc
    bandwidth_limit_mb: "100"
    source: {id: src-1, name: dcs-orders-old, addrs: "192.168.1.2:6379", ip: 192.168.1.2, port: "6379", db: "0", password: PlantedSrcPw-1, status: RUNNING}
    target: {id: dst-1, name: dcs-orders-new, addrs: "192.168.1.9:6379", ip: 192.168.1.9, port: "6379", db: "0", password: PlantedDstPw-1, status: RUNNING}
    steps:
      - {at: 0s, status: RUNNING}
      - {at: 4s, status: FULLMIGRATING, source_task_status: RUNNING, target_task_status: RUNNING}
      - {at: 10s, status: INCRMIGEATING, task_status: EXCHANGING}
      - {at: 16s, status: TERMINATING, task_status: ""}
      - {at: 20s, status: TERMINATED, source_task_status: ""}
  - id: b0000000000000000000000000000002
    name: sessions-import
    migration_type: backupfile_import
    network_type: vpc
    target: {id: dst-2, name: dcs-sessions, addrs: "10.0.0.7:6379", port: "6379", db: "1", password: PlantedDstPw-2}
    backup_files: {file_source: self_build_obs, bucket_name: my-bucket, files: [{file_name: dump.rdb, size: "1048576", update_at: "2019-10-22 14:00:00"}]}
    appears_at: 5s
    removed_at: 30s
    steps:
      - {at: 5s, status: MIGRATING}
      - {at: 8s, status: FAILED, error_message: "bad RDB file"}
  - id: c0000000000000000000000000000003
    name: tokens-move
    migration_type: online_migration
    source: {id: src-3, name: dcs-tokens-old, addrs: "10.0.3.1:6379"}
    target: {id: dst-3, name: dcs-tokens-new, addrs: "10.0.3.2:6379"}
    steps:
      - {at: 0s, status: SUCCESS}
      - {at: 7s, status: RELEASED}
faults:
  - {at: 50s, for: 1s, kind: throttle}
`

const (
	orders   = "a276c1ffa0a54c2597fc824b917db317"
	sessions = "b0000000000000000000000000000002"
	tokens   = "c0000000000000000000000000000003"
)

func detailPath(id string) string { return "/v2/" + project + "/migration-task/" + id }

func listPath(query string) string { return "/v2/" + project + "/migration-tasks" + query }

func TestDetailFollowsTheTimeline(t *testing.T) {
	f := start(t, parse(t, fleet), sim.Options{})
	tests := []struct {
		at                                        time.Duration
		status, taskStatus, srcTask, dstTask, upd string
	}{
		{0, "RUNNING", "", "", "", "2024/11/26 08:00:00"},
		{4*time.Second - time.Millisecond, "RUNNING", "", "", "", "2024/11/26 08:00:00"},
		{4 * time.Second, "FULLMIGRATING", "", "RUNNING", "RUNNING", "2024/11/26 08:00:04"},
		{12 * time.Second, "INCRMIGEATING", "EXCHANGING", "RUNNING", "RUNNING", "2024/11/26 08:00:10"},
		{16 * time.Second, "TERMINATING", "", "RUNNING", "RUNNING", "2024/11/26 08:00:16"},
		{time.Hour, "TERMINATED", "", "", "RUNNING", "2024/11/26 08:00:20"},
	}
	for _, tt := range tests {
		t.Run(tt.at.String(), func(t *testing.T) {
			f.clock.at(tt.at)
			r := f.get(t, detailPath(orders))
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			m := r.obj(t)
			got := []any{m["status"], m["task_status"], field(m, "source_instance", "task_status"),
				field(m, "target_instance", "task_status"), m["updated_at"], m["created_at"]}
			want := []any{tt.status, tt.taskStatus, tt.srcTask, tt.dstTask, tt.upd, "2024/11/26 08:00:00"}
			if !slices.Equal(got, want) {
				t.Errorf("status, task_status, source task_status, target task_status, updated_at, created_at =\n  %v\nwant\n  %v", got, want)
			}
		})
	}
}

// The detail object has the document's field names and types: numbers as
// strings, passwords in plain text, the document's time format.
func TestDetailWireFormat(t *testing.T) {
	f := start(t, parse(t, fleet), sim.Options{})
	f.clock.at(6 * time.Second)
	r := f.get(t, detailPath(sessions))
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	m := r.obj(t)
	checks := map[string]any{
		"task_id":                           sessions,
		"task_name":                         "sessions-import",
		"status":                            "MIGRATING",
		"migration_type":                    "backupfile_import",
		"network_type":                      "vpc",
		"created_at":                        "2024/11/26 08:00:05",
		"updated_at":                        "2024/11/26 08:00:05",
		"target_instance.port":              "6379",
		"target_instance.db":                "1",
		"target_instance.password":          "PlantedDstPw-2",
		"target_instance.proxy_multi_db":    false,
		"backup_files.file_source":          "self_build_obs",
		"backup_files.bucket_name":          "my-bucket",
		"backup_files.files.0.size":         "1048576",
		"backup_files.files.0.update_at":    "2019-10-22 14:00:00",
		"backup_files.files.0.file_name":    "dump.rdb",
		"source_instance (backup import)":   nil,
		"error_message (list rows only)":    nil,
		"task_status present, empty string": "",
	}
	files, _ := field(m, "backup_files", "files").([]any)
	for k, want := range checks {
		var got any
		switch {
		case strings.HasPrefix(k, "backup_files.files.0."):
			if len(files) == 1 {
				got = files[0].(map[string]any)[strings.TrimPrefix(k, "backup_files.files.0.")]
			}
		case strings.HasPrefix(k, "source_instance "):
			got = m["source_instance"]
		case strings.HasPrefix(k, "error_message "):
			got = m["error_message"]
		case strings.HasPrefix(k, "task_status "):
			got = m["task_status"]
		default:
			got = field(m, strings.Split(k, ".")...)
		}
		if got != want {
			t.Errorf("%s = %#v, want %#v", k, got, want)
		}
	}

	// A step to RELEASED sets released_at.
	f.clock.at(8 * time.Second)
	if got := f.get(t, detailPath(tokens)).obj(t)["released_at"]; got != "2024/11/26 08:00:07" {
		t.Errorf("released_at = %v, want 2024/11/26 08:00:07", got)
	}
}

func TestTaskExistsOnlyBetweenAppearingAndRemoval(t *testing.T) {
	f := start(t, parse(t, fleet), sim.Options{})
	for _, tt := range []struct {
		at     time.Duration
		exists bool
	}{
		{5*time.Second - time.Millisecond, false},
		{5 * time.Second, true},
		{30*time.Second - time.Millisecond, true},
		{30 * time.Second, false},
	} {
		f.clock.at(tt.at)
		r := f.get(t, detailPath(sessions))
		listed := slices.Contains(listIDs(t, f.get(t, listPath("?limit=1000"))), sessions)
		if tt.exists {
			if r.status != http.StatusOK || !listed {
				t.Errorf("at %s: detail %d, listed %v; want 200 and listed", tt.at, r.status, listed)
			}
			continue
		}
		if listed {
			t.Errorf("at %s: listed, want not", tt.at)
		}
		wantError(t, r, http.StatusBadRequest, "DCS.4133")
		// The exact body of the real API.
		const want = `{"error_code":"DCS.4133","error_msg":"Migration task not found.","error_ext_msg":null}`
		if string(r.body) != want {
			t.Errorf("at %s: body %s, want %s", tt.at, r.body, want)
		}
	}
}

func listIDs(t *testing.T, r reply) []string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("list: status %d: %s", r.status, r.body)
	}
	var l struct {
		Count int              `json:"count"`
		Rows  []map[string]any `json:"migration_tasks"`
	}
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("list body: %v", err)
	}
	var ids []string
	for _, row := range l.Rows {
		ids = append(ids, row["task_id"].(string))
	}
	return ids
}

// The list rows have the SDK model's field names and no secrets.
func TestListRowShape(t *testing.T) {
	sc := parse(t, fleet)
	f := start(t, sc, sim.Options{})
	f.clock.at(9 * time.Second)
	r := f.get(t, listPath(""))
	var l struct {
		Count int              `json:"count"`
		Rows  []map[string]any `json:"migration_tasks"`
	}
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("list body: %v\n%s", err, r.body)
	}
	if l.Count != 3 || len(l.Rows) != 3 {
		t.Fatalf("count %d, %d rows; want 3, 3", l.Count, len(l.Rows))
	}
	// Newest first: the import appeared at 5 s, the others at 0.
	if got := []any{l.Rows[0]["task_id"], l.Rows[1]["task_id"], l.Rows[2]["task_id"]}; !slices.Equal(got, []any{sessions, orders, tokens}) {
		t.Errorf("order = %v, want newest first, then by id", got)
	}
	row := l.Rows[1]
	want := map[string]any{
		"task_id": orders, "task_name": "orders-cache-move", "status": "FULLMIGRATING",
		"migration_type": "online_migration", "migration_method": "incremental_migration",
		"data_source": "192.168.1.2:6379", "source_instance_name": "dcs-orders-old", "source_instance_id": "src-1",
		"source_instance_status": "RUNNING", "target_instance_addrs": "192.168.1.9:6379",
		"target_instance_name": "dcs-orders-new", "target_instance_id": "dst-1", "target_instance_status": "RUNNING",
		"created_at": "2024/11/26 08:00:00",
	}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("row[%q] = %#v, want %#v", k, row[k], v)
		}
	}
	if got := l.Rows[0]["error_message"]; got != "bad RDB file" {
		t.Errorf("failed import's error_message = %v, want \"bad RDB file\"", got)
	}
	if got := l.Rows[0]["data_source"]; got != "my-bucket" {
		t.Errorf("backup import's data_source = %v, want the bucket", got)
	}
	for _, row := range l.Rows {
		for k := range row {
			if strings.Contains(k, "password") || k == "task_status" || k == "updated_at" {
				t.Errorf("row %v has field %q, which list rows do not have", row["task_id"], k)
			}
		}
	}
	for _, pw := range f.srv.Passwords() {
		if strings.Contains(string(r.body), pw) {
			t.Errorf("list body holds password %q", pw)
		}
	}
}

// generated builds n tasks in Go, the way a benchmark does.
func generated(n int) *sim.Scenario {
	sc := &sim.Scenario{ProjectID: project}
	for i := range n {
		sc.Tasks = append(sc.Tasks, sim.TaskSpec{
			ID:    fmt.Sprintf("task-%03d", i),
			Name:  fmt.Sprintf("svc-%d", i),
			Steps: []sim.Step{{Status: new("MIGRATING")}},
		})
	}
	return sc
}

func TestListPaging(t *testing.T) {
	f := start(t, generated(25), sim.Options{})
	all := map[string]bool{}
	for _, tt := range []struct {
		query string
		rows  int
		first string
	}{
		{"", 10, "task-000"},
		{"?offset=10", 10, "task-010"},
		{"?offset=20&limit=10", 5, "task-020"},
		{"?offset=25", 0, ""},
		{"?offset=3&limit=1", 1, "task-003"},
		{"?limit=1000", 25, "task-000"},
	} {
		r := f.get(t, listPath(tt.query))
		ids := listIDs(t, r)
		if got := r.obj(t)["count"]; got != float64(25) {
			t.Errorf("%s: count = %v, want 25 (all matching tasks, not the page)", tt.query, got)
		}
		if len(ids) != tt.rows || (tt.rows > 0 && ids[0] != tt.first) {
			t.Errorf("%s: %d rows starting %v, want %d starting %s", tt.query, len(ids), ids, tt.rows, tt.first)
		}
		if tt.query != "?limit=1000" {
			for _, id := range ids {
				all[id] = true
			}
		}
	}
	if len(all) != 25 {
		t.Errorf("the pages cover %d distinct tasks, want 25", len(all))
	}
	if r := f.get(t, listPath("?offset=25")); !strings.Contains(string(r.body), `"migration_tasks":[]`) {
		t.Errorf("an empty page must be [], got %s", r.body)
	}
}

func TestListNameFilter(t *testing.T) {
	f := start(t, generated(25), sim.Options{})
	ids := listIDs(t, f.get(t, listPath("?name=svc-1&limit=100")))
	// svc-1 and svc-10 .. svc-19
	if len(ids) != 11 {
		t.Errorf("name=svc-1 matched %d tasks (%v), want 11", len(ids), ids)
	}
	r := f.get(t, listPath("?name=svc-1&offset=10"))
	if ids := listIDs(t, r); len(ids) != 1 || r.obj(t)["count"] != float64(11) {
		t.Errorf("second page of name=svc-1: %v, count %v; want 1 row, count 11", ids, r.obj(t)["count"])
	}
	if ids := listIDs(t, f.get(t, listPath("?name=nothing"))); len(ids) != 0 {
		t.Errorf("name=nothing matched %v", ids)
	}
}

func TestListBadParameters(t *testing.T) {
	f := start(t, generated(3), sim.Options{})
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=ten", "?offset=-1", "?offset=1.5"} {
		m := wantError(t, f.get(t, listPath(q)), http.StatusBadRequest, "DCS.4000")
		msg, _ := m["error_msg"].(string)
		param := strings.TrimPrefix(strings.SplitN(q, "=", 2)[0], "?")
		if !strings.Contains(msg, param) {
			t.Errorf("%s: error_msg %q does not name %s", q, msg, param)
		}
	}
}

func TestRequestErrors(t *testing.T) {
	f := start(t, parse(t, fleet), sim.Options{})
	wantError(t, f.get(t, detailPath("no-such-task")), http.StatusBadRequest, "DCS.4133")
	wantError(t, f.get(t, detailPath("bad_id")), http.StatusBadRequest, "DCS.4070")
	wantError(t, f.get(t, detailPath("bad%20id")), http.StatusBadRequest, "DCS.4070")
	wantError(t, f.get(t, "/v2/other-project/migration-task/"+orders), http.StatusBadRequest, "DCS.4000")
	wantError(t, f.get(t, "/v2/other-project/migration-tasks"), http.StatusBadRequest, "DCS.4000")
	for _, p := range []string{"/", "/v2/" + project, "/v1/" + project + "/migration-tasks", detailPath(orders) + "/restart", detailPath(orders) + "/stats/x"} {
		r := f.get(t, p)
		if r.status != http.StatusNotFound || r.obj(t)["error_code"] == "" {
			t.Errorf("GET %s: %d %s, want 404 with an error body", p, r.status, r.body)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodDelete, f.http.URL+detailPath(orders), nil)
	if r := do(t, req); r.status != http.StatusMethodNotAllowed || r.obj(t)["error_code"] == "" {
		t.Errorf("DELETE: %d %s, want 405 with an error body", r.status, r.body)
	}
}

func TestRequestIDsAreUnique(t *testing.T) {
	f := start(t, parse(t, fleet), sim.Options{})
	seen := map[string]bool{}
	for _, p := range []string{detailPath(orders), detailPath(orders), listPath(""), detailPath("nope"), "/elsewhere"} {
		id := f.get(t, p).header.Get("X-Request-Id")
		if id == "" || seen[id] {
			t.Errorf("GET %s: X-Request-Id %q is empty or repeated", p, id)
		}
		seen[id] = true
	}
	// Another server's ids differ too.
	g := start(t, parse(t, fleet), sim.Options{})
	if id := g.get(t, listPath("")).header.Get("X-Request-Id"); seen[id] {
		t.Errorf("a second server repeated request id %q", id)
	}
}

func TestCountersPasswordsDuration(t *testing.T) {
	f := start(t, parse(t, fleet), sim.Options{})
	for range 3 {
		f.get(t, detailPath(orders))
	}
	f.get(t, detailPath("nope"))
	f.get(t, listPath(""))
	f.get(t, listPath("?limit=5"))
	f.clock.at(50 * time.Second) // the throttle window
	f.get(t, listPath(""))
	want := sim.Calls{Detail: 4, List: 3, Faults: 1}
	if got := f.srv.Calls(); got != want {
		t.Errorf("Calls() = %+v, want %+v", got, want)
	}
	if got, want := f.srv.Passwords(), []string{"PlantedDstPw-1", "PlantedDstPw-2", "PlantedSrcPw-1"}; !slices.Equal(got, want) {
		t.Errorf("Passwords() = %v, want %v", got, want)
	}
	// The throttle window ends at 51 s, after every step and the removal at 30 s.
	if got := f.srv.Duration(); got != 51*time.Second {
		t.Errorf("Duration() = %s, want 51s", got)
	}
	if f.srv.ProjectID() != project {
		t.Errorf("ProjectID() = %q", f.srv.ProjectID())
	}
}

// Without a Start, the scenario starts when New is called, on the real clock.
func TestDefaultStartIsNow(t *testing.T) {
	before := time.Now()
	srv := sim.New(parse(t, fleet), sim.Options{})
	if s := srv.Start(); s.Before(before) || s.After(time.Now()) {
		t.Errorf("Start() = %v, want the time New was called", s)
	}
}
