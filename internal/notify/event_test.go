package notify_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

const (
	prefix  = "dcs.migration"
	project = "254d3b7f0a6c4e1f9a8b7c6d5e4f3a2b"
	region  = "cn-north-4"
	taskID  = "a1b2c3d4-0000-4000-8000-000000000001"
)

// schemaPath is docs/event.schema.json, relative to this package.
const schemaPath = "../../docs/event.schema.json"

func task(status string) *dcs.Task {
	return &dcs.Task{
		ID:                taskID,
		Name:              "orders-cache-move",
		Status:            status,
		TaskStatus:        "RUNNING",
		MigrationType:     "incremental_migration",
		MigrationMethod:   "online_migration",
		SupportedFeatures: []string{"supported_ssl"},
		BandwidthLimitMB:  "100",
		CreatedAt:         "2026-03-01T10:00:00Z",
		UpdatedAt:         "2026-03-01T11:00:00Z",
		BackupFiles: &dcs.BackupFiles{FileSource: "self_build_obs", BucketName: "b",
			Files: []dcs.BackupFile{{Name: "dump.rdb", Size: "1024", UpdateAt: "2026-03-01"}}},
		Source: dcs.Instance{ID: "src-id", Name: "redis-src", Addrs: "192.168.0.10:6379", IP: "192.168.0.10",
			Port: "6379", DB: "0", TaskStatus: "RUNNING", PasswordSet: true},
		Target: dcs.Instance{ID: "dst-id", Name: "redis-dst", Addrs: "192.168.0.20:6379", ProxyMultiDB: true,
			TaskStatus: "RUNNING", PasswordSet: true},
	}
}

func with(t *dcs.Task, edit func(*dcs.Task)) *dcs.Task {
	c := *t
	edit(&c)
	return &c
}

// one returns the only event of kind k that diff.Diff makes of prev -> curr.
func one(t *testing.T, prev, curr *dcs.Task, k diff.Kind) diff.Event {
	t.Helper()
	for _, ev := range diff.Diff(prev, curr) {
		if ev.Kind == k {
			return ev
		}
	}
	t.Fatalf("diff makes no %s event", k)
	return diff.Event{}
}

func TestToken(t *testing.T) {
	tests := []struct{ in, want string }{
		{"RUNNING", "RUNNING"},
		{"", "_"},
		{"a.b", "a_b"},
		{"a*b", "a_b"},
		{"a>b", "a_b"},
		{"a b", "a_b"},
		{"a\tb\nc\rd", "a_b_c_d"},
		{"a\x00b\x7f", "a_b_"},
		{"*", "_"},
		{">", "_"},
		{"task-1_x=y", "task-1_x=y"},
		{"tâche", "tâche"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := event.Token(tt.in); got != tt.want {
				t.Fatalf("Token(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSubject(t *testing.T) {
	running := task("RUNNING")
	tests := []struct {
		name    string
		prefix  string
		project string
		ev      diff.Event
		want    string
	}{
		{"discovered", prefix, project, diff.Diff(nil, running)[0],
			prefix + "." + project + "." + taskID + ".discovered.RUNNING.in_progress"},
		{"status normalised", prefix, project, one(t, running, task("incrmigrating "), diff.StatusChanged),
			prefix + "." + project + "." + taskID + ".status_changed.INCRMIGEATING.in_progress"},
		{"removed keeps the last status", prefix, project, diff.RemovedEvent(task("FAILED")),
			prefix + "." + project + "." + taskID + ".removed.FAILED.failed"},
		{"API as a whole", prefix, project, diff.Degraded("", "auth", "401", nil, 1),
			prefix + "." + project + "._api.watch_degraded.NONE.unknown"},
		{"a failure in another spelling", prefix, project, one(t, running, task("MIGRATION_FAILED"), diff.StatusChanged),
			prefix + "." + project + "." + taskID + ".status_changed.MIGRATION_FAILED.failed"},
		{"no status", prefix, project, diff.Diff(nil, task(""))[0],
			prefix + "." + project + "." + taskID + ".discovered.NONE.unknown"},
		{"only the previous has a status", prefix, project,
			diff.Event{Kind: diff.Changed, TaskID: "t", Prev: task("MIGRATING"), Curr: task("")},
			prefix + "." + project + ".t.changed.MIGRATING.in_progress"},
		{"reserved characters in every token", "watch", "my project.1",
			diff.Event{Kind: diff.Discovered, TaskID: "a.b*c>d e", Curr: task("WEIRD STATUS.*")},
			"watch.my_project_1.a_b_c_d_e.discovered.WEIRD_STATUS__.unknown"},
		{"empty project", prefix, "", diff.Diff(nil, running)[0],
			prefix + "._." + taskID + ".discovered.RUNNING.in_progress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := notify.NATSSubject(tt.prefix, tt.project, tt.ev)
			if got != tt.want {
				t.Fatalf("Subject = %q, want %q", got, tt.want)
			}
			if n := strings.Count(got, ".") - strings.Count(tt.prefix, "."); n != 5 {
				t.Fatalf("Subject %q has %d tokens after the prefix, want 5", got, n)
			}
		})
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(schemaPath)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaPath, err)
	}
	return sch
}

// validate checks the JSON form of v against the schema.
func validate(t *testing.T, sch *jsonschema.Schema, v any) error {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return sch.Validate(doc)
}

func TestBuild(t *testing.T) {
	sch := compileSchema(t)
	shanghai := time.FixedZone("UTC+8", 8*3600)
	observed := time.Date(2026, 3, 1, 20, 0, 0, 0, shanghai) // 12:00 UTC
	since := observed.Add(-3*time.Minute - 12*time.Second)
	secs := func(f float64) *float64 { return &f }

	migrating := task("MIGRATING")
	incr := task("INCRMIGRATING")
	srcStatus := with(migrating, func(t *dcs.Task) { t.Source.TaskStatus = "EXCHANGING" })
	bandwidth := with(migrating, func(t *dcs.Task) { t.BandwidthLimitMB = "200" })

	tests := []struct {
		name        string
		ev          diff.Event
		since       time.Time
		region      string
		source      string
		prev, curr  *wantStatus
		seconds     *float64
		snapshot    *dcs.Task
		scope       string
		reason      string
		subjectTail string
	}{
		{name: "discovered", ev: diff.Diff(nil, migrating)[0], since: since, region: region,
			source: "dcs://cn-north-4/projects/" + project, curr: &wantStatus{"MIGRATING", "MIGRATING"},
			snapshot: migrating, subjectTail: ".discovered.MIGRATING.in_progress"},
		{name: "status_changed with a known since time", ev: one(t, migrating, incr, diff.StatusChanged), since: since,
			region: region, source: "dcs://cn-north-4/projects/" + project,
			prev: &wantStatus{"MIGRATING", "MIGRATING"}, curr: &wantStatus{"INCRMIGRATING", "INCRMIGEATING"},
			seconds: secs(192), snapshot: incr, subjectTail: ".status_changed.INCRMIGEATING.in_progress"},
		{name: "status_changed, since unknown", ev: one(t, migrating, incr, diff.StatusChanged),
			source: "dcs://unknown/projects/" + project,
			prev:   &wantStatus{"MIGRATING", "MIGRATING"}, curr: &wantStatus{"INCRMIGRATING", "INCRMIGEATING"},
			snapshot: incr, subjectTail: ".status_changed.INCRMIGEATING.in_progress"},
		{name: "status_changed, since after the observation", ev: one(t, migrating, incr, diff.StatusChanged),
			since: observed.Add(time.Second), region: region, source: "dcs://cn-north-4/projects/" + project,
			prev: &wantStatus{"MIGRATING", "MIGRATING"}, curr: &wantStatus{"INCRMIGRATING", "INCRMIGEATING"},
			snapshot: incr, subjectTail: ".status_changed.INCRMIGEATING.in_progress"},
		{name: "task_status_changed", ev: one(t, migrating, srcStatus, diff.TaskStatusChanged), since: since,
			region: region, source: "dcs://cn-north-4/projects/" + project,
			prev: &wantStatus{"MIGRATING", "MIGRATING"}, curr: &wantStatus{"MIGRATING", "MIGRATING"},
			snapshot: srcStatus, scope: diff.ScopeSource, subjectTail: ".task_status_changed.MIGRATING.in_progress"},
		{name: "changed", ev: one(t, migrating, bandwidth, diff.Changed), since: since, region: region,
			source: "dcs://cn-north-4/projects/" + project,
			prev:   &wantStatus{"MIGRATING", "MIGRATING"}, curr: &wantStatus{"MIGRATING", "MIGRATING"},
			snapshot: bandwidth, subjectTail: ".changed.MIGRATING.in_progress"},
		{name: "removed", ev: diff.RemovedEvent(task("SUCCESS")), since: since, region: region,
			source: "dcs://cn-north-4/projects/" + project,
			prev:   &wantStatus{"SUCCESS", "SUCCESS"}, curr: &wantStatus{"SUCCESS", "SUCCESS"},
			snapshot: task("SUCCESS"), subjectTail: ".removed.SUCCESS.succeeded"},
		{name: "watch_degraded", ev: diff.Degraded(taskID, "throttled", "APIGW.0308", migrating, 2), since: since,
			region: region, source: "dcs://cn-north-4/projects/" + project,
			prev: &wantStatus{"MIGRATING", "MIGRATING"}, curr: &wantStatus{"MIGRATING", "MIGRATING"},
			snapshot: migrating, reason: "throttled: APIGW.0308", subjectTail: ".watch_degraded.MIGRATING.unknown"},
		{name: "watch_recovered", ev: diff.Recovered(taskID, "throttled", migrating, 2), since: since,
			region: region, source: "dcs://cn-north-4/projects/" + project,
			prev: &wantStatus{"MIGRATING", "MIGRATING"}, curr: &wantStatus{"MIGRATING", "MIGRATING"},
			snapshot: migrating, reason: "recovered from throttled", subjectTail: ".watch_recovered.MIGRATING.unknown"},
		{name: "watch_degraded, API as a whole", ev: diff.Degraded("", "auth", "IAM answers 401", nil, 1),
			region: region, source: "dcs://cn-north-4/projects/" + project,
			reason: "auth: IAM answers 401", subjectTail: ".watch_degraded.NONE.unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := notify.Build(prefix, tt.ev, notify.Meta{Region: tt.region, ProjectID: project,
				ObservedAt: observed, PrevStatusSince: tt.since})

			if env.SpecVersion != "1.0" || env.DataContentType != "application/json" || env.ID != tt.ev.ID {
				t.Errorf("specversion %q, datacontenttype %q, id %q (event id %q)",
					env.SpecVersion, env.DataContentType, env.ID, tt.ev.ID)
			}
			if want := "com.huaweicloud.dcs.migration." + string(tt.ev.Kind) + ".v1"; env.Type != want {
				t.Errorf("type = %q, want %q", env.Type, want)
			}
			if env.Source != tt.source {
				t.Errorf("source = %q, want %q", env.Source, tt.source)
			}
			if !env.Time.Equal(observed) || env.Time.Location() != time.UTC {
				t.Errorf("time = %v, want %v in UTC", env.Time, observed)
			}
			if !strings.HasPrefix(env.NATSSubject, prefix+"."+project+".") || !strings.HasSuffix(env.NATSSubject, tt.subjectTail) {
				t.Errorf("NATS subject = %q, want %s.%s.<task>%s", env.NATSSubject, prefix, project, tt.subjectTail)
			}
			if tail := "." + string(env.Data.Outcome); env.Data.Outcome == "" || env.Data.Severity == "" || !strings.HasSuffix(env.NATSSubject, tail) {
				t.Errorf("outcome %q, severity %q: want both set, the outcome last in the subject %q", env.Data.Outcome, env.Data.Severity, env.NATSSubject)
			}
			if want := tt.ev.TaskID; (want != "" && env.Subject != want) || (want == "" && env.Subject != "_api") {
				t.Errorf("CloudEvents subject = %q, want the task id (or _api)", env.Subject)
			}

			d := env.Data
			if d.Kind != tt.ev.Kind || d.TaskID != tt.ev.TaskID || d.ProjectID != project || d.Region != tt.region {
				t.Errorf("data kind %q task %q project %q region %q", d.Kind, d.TaskID, d.ProjectID, d.Region)
			}
			if d.Scope != tt.scope || d.Reason != tt.reason {
				t.Errorf("data scope %q reason %q, want %q %q", d.Scope, d.Reason, tt.scope, tt.reason)
			}
			checkStatus(t, "previous_status", d.PreviousStatus, tt.prev)
			checkStatus(t, "current_status", d.CurrentStatus, tt.curr)
			switch {
			case tt.seconds == nil && d.PreviousStatusSeconds != nil:
				t.Errorf("previous_status_seconds = %v, want none", *d.PreviousStatusSeconds)
			case tt.seconds != nil && (d.PreviousStatusSeconds == nil || *d.PreviousStatusSeconds != *tt.seconds):
				t.Errorf("previous_status_seconds = %v, want %v", d.PreviousStatusSeconds, *tt.seconds)
			}
			if !reflect.DeepEqual(d.Snapshot, tt.snapshot) {
				t.Errorf("snapshot = %+v, want %+v", d.Snapshot, tt.snapshot)
			}
			if tt.snapshot != nil && d.TaskName != tt.snapshot.Name {
				t.Errorf("task_name = %q, want %q", d.TaskName, tt.snapshot.Name)
			}
			if !reflect.DeepEqual(d.Changes, tt.ev.Changes) {
				t.Errorf("changes = %v, want the event's %v", d.Changes, tt.ev.Changes)
			}

			if err := validate(t, sch, env); err != nil {
				t.Errorf("envelope does not match %s: %v", schemaPath, err)
			}
		})
	}
}

// wantStatus is an expected StatusInfo: raw and normalised spelling; phase
// and known follow from the normalised one.
type wantStatus struct{ raw, norm string }

func checkStatus(t *testing.T, name string, got *notify.StatusInfo, want *wantStatus) {
	t.Helper()
	switch {
	case want == nil && got != nil:
		t.Errorf("%s = %+v, want none", name, *got)
	case want != nil && got == nil:
		t.Errorf("%s missing, want %+v", name, *want)
	case want != nil:
		n := dcs.Status(want.norm)
		if got.Raw != want.raw || got.Normalized != want.norm || got.Phase != n.Phase() || got.Known != n.Known() {
			t.Errorf("%s = %+v, want raw %q normalized %q phase %q known %v",
				name, *got, want.raw, want.norm, n.Phase(), n.Known())
		}
	}
}

// TestSchemaRejects proves the schema bites: each edit of a valid envelope
// must fail validation.
func TestSchemaRejects(t *testing.T) {
	sch := compileSchema(t)
	env := notify.Build(prefix, diff.Diff(nil, task("MIGRATING"))[0],
		notify.Meta{Region: region, ProjectID: project, ObservedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
	base, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, sch, json.RawMessage(base)); err != nil {
		t.Fatalf("base envelope invalid: %v", err)
	}

	tests := []struct {
		name string
		edit func(m map[string]any)
	}{
		{"password in source_instance", func(m map[string]any) { instance(m, "source_instance")["password"] = "hunter2" }},
		{"password in target_instance", func(m map[string]any) { instance(m, "target_instance")["password"] = "hunter2" }},
		{"password in the snapshot", func(m map[string]any) { snapshot(m)["password"] = "hunter2" }},
		{"unknown field in data", func(m map[string]any) { data(m)["secret"] = "x" }},
		{"unknown kind", func(m map[string]any) { data(m)["kind"] = "exploded" }},
		{"wrong specversion", func(m map[string]any) { m["specversion"] = "0.3" }},
		{"type outside the namespace", func(m map[string]any) { m["type"] = "com.example.discovered.v1" }},
		{"type without version", func(m map[string]any) { m["type"] = "com.huaweicloud.dcs.migration.discovered" }},
		{"time not a date-time", func(m map[string]any) { m["time"] = "yesterday" }},
		{"other content type", func(m map[string]any) { m["datacontenttype"] = "text/plain" }},
		{"no id", func(m map[string]any) { delete(m, "id") }},
		{"no subject", func(m map[string]any) { delete(m, "subject") }},
		{"no data", func(m map[string]any) { delete(m, "data") }},
		{"status phase unknown to the schema", func(m map[string]any) {
			data(m)["current_status"].(map[string]any)["phase"] = "paused"
		}},
		{"password_set not a boolean", func(m map[string]any) { instance(m, "source_instance")["password_set"] = "yes" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(base, &m); err != nil {
				t.Fatal(err)
			}
			tt.edit(m)
			if err := validate(t, sch, m); err == nil {
				t.Fatal("schema accepts the edited envelope")
			}
		})
	}
}

func data(m map[string]any) map[string]any     { return m["data"].(map[string]any) }
func snapshot(m map[string]any) map[string]any { return data(m)["snapshot"].(map[string]any) }
func instance(m map[string]any, which string) map[string]any {
	return snapshot(m)[which].(map[string]any)
}

// The Slack delivery's own health events (a revoked webhook) are watch_*
// events with scope slack, under the task token _slack, and valid
// envelopes.
func TestBuildSlackHealth(t *testing.T) {
	sch := compileSchema(t)
	for _, kind := range []diff.Kind{diff.WatchDegraded, diff.WatchRecovered} {
		ev := diff.Event{ID: "0123456789abcdef0123456789abcdef", Kind: kind, Scope: diff.ScopeSlack,
			Reason: "slack webhook: HTTP 404 no_service"}
		env := notify.Build(prefix, ev, notify.Meta{Region: region, ProjectID: project, ObservedAt: time.Now()})
		if want := prefix + "." + project + "._slack." + string(kind) + ".NONE.unknown"; env.NATSSubject != want {
			t.Errorf("NATS subject = %q, want %q", env.NATSSubject, want)
		}
		if env.Subject != "_slack" || env.Data.Scope != "slack" || env.Data.TaskID != "" {
			t.Errorf("subject %q, scope %q, task_id %q; want _slack, slack and none", env.Subject, env.Data.Scope, env.Data.TaskID)
		}
		if err := validate(t, sch, env); err != nil {
			t.Errorf("%s envelope does not match %s: %v", kind, schemaPath, err)
		}
	}
}

// TestClassify is the README's outcome and severity table.
func TestClassify(t *testing.T) {
	tests := []struct {
		kind     diff.Kind
		status   dcs.Status
		outcome  dcs.Outcome
		severity notify.Severity
	}{
		{diff.StatusChanged, "FAILED", dcs.OutcomeFailed, notify.SeverityCritical},
		{diff.StatusChanged, "MIGRATION_FAILED", dcs.OutcomeFailed, notify.SeverityCritical},
		{diff.StatusChanged, "ERROR", dcs.OutcomeFailed, notify.SeverityCritical},
		{diff.Discovered, "FAILED", dcs.OutcomeFailed, notify.SeverityCritical},
		{diff.StatusChanged, "SUCCESS", dcs.OutcomeSucceeded, notify.SeverityInfo},
		{diff.StatusChanged, "MIGRATION_SUCCESS", dcs.OutcomeSucceeded, notify.SeverityInfo},
		{diff.StatusChanged, "TERMINATED", dcs.OutcomeStopped, notify.SeverityWarning},
		{diff.StatusChanged, "RELEASED", dcs.OutcomeStopped, notify.SeverityWarning},
		{diff.StatusChanged, "INCRMIGEATING", dcs.OutcomeInProgress, notify.SeverityInfo},
		{diff.StatusChanged, "TERMINATING", dcs.OutcomeInProgress, notify.SeverityInfo},
		{diff.Discovered, "RUNNING", dcs.OutcomeInProgress, notify.SeverityInfo},
		{diff.StatusChanged, "WEIRD_NEW_STATE", dcs.OutcomeUnknown, notify.SeverityWarning},
		{diff.StatusChanged, "", dcs.OutcomeUnknown, notify.SeverityWarning},
		{diff.Changed, "FAILED", dcs.OutcomeFailed, notify.SeverityInfo},
		{diff.TaskStatusChanged, "MIGRATING", dcs.OutcomeInProgress, notify.SeverityInfo},
		{diff.Removed, "SUCCESS", dcs.OutcomeSucceeded, notify.SeverityWarning},
		{diff.Removed, "", dcs.OutcomeUnknown, notify.SeverityWarning},
		{diff.WatchDegraded, "FAILED", dcs.OutcomeUnknown, notify.SeverityWarning},
		{diff.WatchRecovered, "MIGRATING", dcs.OutcomeUnknown, notify.SeverityInfo},
		{diff.Stalled, "FULLMIGRATING", dcs.OutcomeInProgress, notify.SeverityWarning},
		{diff.Resumed, "FULLMIGRATING", dcs.OutcomeInProgress, notify.SeverityInfo},
		{diff.Resumed, "MIGRATION_FAILED", dcs.OutcomeFailed, notify.SeverityInfo},
	}
	for _, tt := range tests {
		o, s := event.Classify(tt.kind, tt.status)
		if o != tt.outcome || s != tt.severity {
			t.Errorf("Classify(%s, %q) = %s, %s; want %s, %s", tt.kind, tt.status, o, s, tt.outcome, tt.severity)
		}
	}
}

// A silenced event carries its silence's id, validates, and keeps the id
// of the same event unsilenced; an empty mark is not a valid one.
func TestSilencedMark(t *testing.T) {
	sch := compileSchema(t)
	ev := diff.Diff(task("MIGRATING"), task("MIGRATION_FAILED"))[0]
	plain := notify.Build(prefix, ev, notify.Meta{Region: region, ProjectID: project, ObservedAt: time.Now()})
	env := plain
	env.Data.Silenced = "window:nightly"
	if err := validate(t, sch, env); err != nil {
		t.Errorf("silenced envelope does not match %s: %v", schemaPath, err)
	}
	if env.ID != plain.ID {
		t.Errorf("silenced event id %s, want the unsilenced one's %s", env.ID, plain.ID)
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if got := data(m)["silenced"]; got != "window:nightly" {
		t.Errorf("data.silenced = %v, want window:nightly", got)
	}
	data(m)["silenced"] = ""
	if err := validate(t, sch, m); err == nil {
		t.Error("schema accepts an empty data.silenced")
	}
}

// TestBuildProgress: an event of a task in an active status carries its
// last progress (valid against the schema, in UTC); an event of a task
// that is not active does not, and progress never changes the event id.
func TestBuildProgress(t *testing.T) {
	sch := compileSchema(t)
	pct, lag, rate := 63.5, int64(1200), 1.25
	at := time.Date(2026, 3, 1, 20, 0, 0, 0, time.FixedZone("UTC+8", 8*3600))
	pr := &notify.Progress{Stats: dcs.Stats{Percent: &pct, Lag: &lag}, ObservedAt: at, PercentPerMinute: &rate}
	m := notify.Meta{Region: region, ProjectID: project, ObservedAt: at, Progress: pr}

	active := notify.Build(prefix, one(t, task("MIGRATING"), task("INCRMIGRATING"), diff.StatusChanged), m)
	got := active.Data.Progress
	if got == nil || *got.Percent != pct || *got.Lag != lag || *got.PercentPerMinute != rate ||
		!got.ObservedAt.Equal(at) || got.ObservedAt.Location() != time.UTC {
		t.Fatalf("progress of an active task = %+v, want percent %v, lag %v, rate %v at %v UTC", got, pct, lag, rate, at)
	}
	if err := validate(t, sch, active); err != nil {
		t.Fatalf("event with progress does not match the schema: %v", err)
	}
	b, _ := json.Marshal(active.Data.Progress)
	if want := `{"percent":63.5,"lag":1200,"observed_at":"2026-03-01T12:00:00Z","percent_per_minute":1.25}`; string(b) != want {
		t.Fatalf("progress JSON = %s, want %s", b, want)
	}
	without := notify.Build(prefix, one(t, task("MIGRATING"), task("INCRMIGRATING"), diff.StatusChanged),
		notify.Meta{Region: region, ProjectID: project, ObservedAt: at})
	if without.ID != active.ID {
		t.Fatalf("event id %s with progress, %s without: progress must not make the id", active.ID, without.ID)
	}
	done := notify.Build(prefix, one(t, task("INCRMIGRATING"), task("SUCCESS"), diff.StatusChanged), m)
	if done.Data.Progress != nil {
		t.Fatalf("event of a finished task carries progress %+v", done.Data.Progress)
	}
}
