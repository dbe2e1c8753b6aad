package notify_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// fullTask is a task with every field of the snapshot set.
func fullTask(status string) *dcs.Task {
	return with(task(status), func(t *dcs.Task) {
		t.Description, t.NetworkType, t.ECSTenantPrivateIP, t.ResumeMode = "move orders", "vpc", "10.0.0.5", "auto"
		t.TenantVPCID, t.TenantSubnetID, t.TenantSecurityGroupID = "vpc-1", "subnet-1", "sg-1"
		t.Version, t.ReleasedAt, t.ErrorMessage = "6.0", "2026-03-02T10:00:00Z", "source unreachable"
		t.BackupFiles = &dcs.BackupFiles{FileSource: "self_build_obs", BucketName: "b", BackupID: "bk-1",
			Files: []dcs.BackupFile{{Name: "dump.rdb", Size: "1024", UpdateAt: "2026-03-01"}}}
		t.Source.Status, t.Target.Status = "RUNNING", "RUNNING"
		t.Target.IP, t.Target.Port, t.Target.DB, t.Target.ID = "192.168.0.20", "6379", "0", "dst-id"
		t.Source.ProxyMultiDB = true
	})
}

// everyKind is one event of each kind as the watcher builds it, between
// them carrying every field of the envelope.
func everyKind(t *testing.T) []notify.Envelope {
	t.Helper()
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	pct, lag, rate, kbps, size, ops, yes := 63.5, int64(1200), 1.25, 800.5, int64(1<<20), int64(900), true
	logs := []dcs.LogEntry{{CreatedAt: "2026-03-01T11:59:00Z", Time: at.Add(-time.Minute), Level: "ERROR",
		Message: "auth failed: password=<secret>", Code: "DCS.M1", Keywords: []string{"auth"}}}
	m := notify.Meta{Region: region, ProjectID: project, ObservedAt: at, PrevStatusSince: at.Add(-time.Hour),
		Gap: "watcher restarted", Delayed: true,
		Progress: &notify.Progress{Stats: dcs.Stats{Percent: &pct, Lag: &lag, SourceDBSize: &size, TargetDBSize: &size,
			InputKbps: &kbps, Ops: &ops, Migrating: &yes}, ObservedAt: at, PercentPerMinute: &rate}}
	cleared := at.Add(time.Minute)
	a := diff.Attention{Condition: diff.LagGrowing, Episode: 2, Since: at.Add(-15 * time.Minute), Percent: &pct,
		Lag: &lag, LagFrom: &lag, MaxLag: &lag, Status: "INCRMIGEATING", AllowedSeconds: 900}
	b := a
	b.ClearedAt, b.ClearedBy, b.ClearedLag = &cleared, diff.ClearedRecovered, &lag

	prev, curr := fullTask("MIGRATING"), fullTask("INCRMIGRATING")
	failed := one(t, prev, fullTask("MIGRATION_FAILED"), diff.StatusChanged)
	failed.LogTail = logs
	changed := one(t, curr, with(curr, func(t *dcs.Task) { t.BandwidthLimitMB = "50" }), diff.Changed)
	changed.LogTailError = "unavailable"
	evs := []diff.Event{
		diff.Diff(nil, curr)[0],
		one(t, prev, curr, diff.StatusChanged),
		failed,
		one(t, curr, with(curr, func(t *dcs.Task) { t.Source.TaskStatus = "SUCCESS" }), diff.TaskStatusChanged),
		changed,
		diff.RemovedEvent(curr),
		diff.Degraded(taskID, "auth", "401 from IAM", curr, 1),
		diff.Recovered(taskID, "auth", curr, 1),
		diff.StalledEvent(taskID, a, curr),
		diff.ResumedEvent(taskID, b, curr),
	}
	var envs []notify.Envelope
	for _, ev := range evs {
		env := notify.Build(prefix, ev.At(project, 7), m)
		if ev.Kind == diff.Stalled {
			env.Data.Silenced, env.Data.CatchUp = "silence-1", "silence-0" // as the silences mark them
		}
		envs = append(envs, env)
	}
	envs = append(envs, notify.Heartbeat(prefix, region, at, event.HeartbeatData{
		Version: "v1.4.0", Replica: "host-1-0a1b2c3d", Started: at.Add(-time.Hour), Seq: 61, Replicas: 2,
		Projects: []event.HeartbeatProject{{ProjectID: project, Region: region, LastSuccess: &cleared}},
	}))
	var kinds []event.Kind
	for _, e := range envs {
		kinds = append(kinds, e.Data.Kind)
	}
	for _, k := range append(event.Kinds(), event.Heartbeat) {
		if !slices.Contains(kinds, k) {
			t.Fatalf("the fixture has no %s event", k)
		}
	}
	return envs
}

// TestEnvelopeRoundTrip publishes an event of every kind as the watcher
// does, reads each message back off the stream and decodes it as a
// consumer would: event.Decode takes it, a strict decode into
// event.Envelope finds no field the contract lacks, and encoding what was
// decoded gives the message body back; between them the decoded events
// hold every field of the envelope, so none is lost on the way.
func TestEnvelopeRoundTrip(t *testing.T) {
	js := startJS(t)
	ensure(t, js, notify.StreamOptions{Name: stream, Prefix: prefix, Duplicates: time.Minute})
	p := notify.NewPublisher(js, notify.PublisherOptions{Stream: stream, Prefix: prefix, Region: region})
	st, err := js.Stream(ctxT(t), stream)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for i, env := range everyKind(t) {
		if err := p.Publish(ctxT(t), env); err != nil {
			t.Fatalf("publish %s: %v", env.Data.Kind, err)
		}
		msg, err := st.GetMsg(ctxT(t), uint64(i+1))
		if err != nil {
			t.Fatalf("read %s back: %v", env.Data.Kind, err)
		}
		if msg.Subject != env.NATSSubject {
			t.Errorf("%s: published on %s, built for %s", env.Data.Kind, msg.Subject, env.NATSSubject)
		}
		got, err := event.Decode(msg.Data)
		if err != nil {
			t.Fatalf("%s: event.Decode: %v\n%s", env.Data.Kind, err, msg.Data)
		}
		var strict event.Envelope
		dec := json.NewDecoder(bytes.NewReader(msg.Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&strict); err != nil {
			t.Errorf("%s: the body holds what event.Envelope lacks: %v", env.Data.Kind, err)
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if !sameJSON(t, again, msg.Data) {
			t.Errorf("%s: decoded and encoded again\n%s\nthe message was\n%s", env.Data.Kind, again, msg.Data)
		}
		if got.ID != env.ID || !got.Time.Equal(env.Time) || got.Data.Kind != env.Data.Kind {
			t.Errorf("%s: decoded id %s time %v, built %s %v", env.Data.Kind, got.ID, got.Time, env.ID, env.Time)
		}
		fieldsSet(reflect.ValueOf(got), "", set)
	}
	var never []string
	for path, ok := range set {
		if !ok {
			never = append(never, path)
		}
	}
	slices.Sort(never)
	if len(never) > 0 {
		t.Errorf("no decoded event holds %s: lost on the way, or the fixture lacks it", strings.Join(never, ", "))
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

// fieldsSet records for every JSON path of v whether it holds a value
// (once true, it stays so); a nil pointer or an empty slice is recorded
// and not entered. A field JSON leaves out is recorded by its Go name,
// so that it counts as lost, but Envelope.NATSSubject, which is not part
// of the body by design.
func fieldsSet(v reflect.Value, path string, set map[string]bool) {
	if path != "" {
		set[path] = set[path] || !v.IsZero()
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			fieldsSet(v.Elem(), path, set)
		}
	case reflect.Slice:
		if v.Len() > 0 {
			fieldsSet(v.Index(0), path+"[]", set)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				name = f.Name
			}
			switch {
			case !f.IsExported() || path == "" && name == "NATSSubject":
				continue
			case f.Anonymous:
				fieldsSet(v.Field(i), path, set)
				continue
			}
			sep := "."
			if path == "" {
				sep = ""
			}
			fieldsSet(v.Field(i), path+sep+name, set)
		}
	}
}
