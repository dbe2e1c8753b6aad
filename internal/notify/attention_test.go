package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// TestBuildAttention: stalled and resumed events carry their episode and
// (a stall) its log tail, on the subject grammar of the other kinds, valid
// against the schema; the figures and the tail never make the id.
func TestBuildAttention(t *testing.T) {
	sch := compileSchema(t)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pct, cleared := 63.0, at.Add(20*time.Minute)
	a := diff.Attention{Condition: diff.ProgressStalled, Episode: 2, Since: at.Add(-15 * time.Minute), Percent: &pct,
		Status: "FULLMIGRATING", AllowedSeconds: 900}
	m := notify.Meta{Region: region, ProjectID: project, ObservedAt: at}
	stalled := diff.StalledEvent(taskID, a, task("FULLMIGRATING"))
	stalled.LogTail = []dcs.LogEntry{{CreatedAt: "2026-03-01T11:59:00Z", Time: at.Add(-time.Minute), Level: "ERROR", Message: "password=<secret> rejected", Code: "DCS.M1"}}
	env := notify.Build(prefix, stalled, m)
	if !strings.HasSuffix(env.NATSSubject, "."+taskID+".stalled.FULLMIGRATING.in_progress") || env.Type != "com.huaweicloud.dcs.migration.stalled.v1" ||
		env.Data.Severity != notify.SeverityWarning || env.Data.Attention == nil || *env.Data.Attention.Percent != 63 || len(env.Data.LogTail) != 1 {
		t.Fatalf("stalled envelope %s %s %+v", env.NATSSubject, env.Type, env.Data)
	}
	if err := validate(t, sch, env); err != nil {
		t.Fatalf("stalled event does not match the schema: %v", err)
	}
	plain := notify.Build(prefix, diff.StalledEvent(taskID, a, task("FULLMIGRATING")), m)
	if plain.ID != env.ID {
		t.Errorf("the log tail changed the id")
	}
	b := a
	b.ClearedAt, b.ClearedBy = &cleared, diff.ClearedRecovered
	res := notify.Build(prefix, diff.ResumedEvent(taskID, b, task("FULLMIGRATING")), m)
	if res.ID == env.ID || !strings.HasSuffix(res.NATSSubject, ".resumed.FULLMIGRATING.in_progress") || res.Data.Severity != notify.SeverityInfo {
		t.Errorf("resumed envelope %s %s severity %s", res.ID, res.NATSSubject, res.Data.Severity)
	}
	if err := validate(t, sch, res); err != nil {
		t.Fatalf("resumed event does not match the schema: %v", err)
	}
	failed := notify.Build(prefix, one(t, task("MIGRATING"), task("MIGRATION_FAILED"), diff.StatusChanged), m)
	failed.Data.LogTailError = "unavailable"
	if err := validate(t, sch, failed); err != nil {
		t.Fatalf("failure with log_tail_error does not match the schema: %v", err)
	}
	// A second episode of the same condition over the same snapshot is a
	// new event.
	a3 := a
	a3.Episode = 3
	if notify.Build(prefix, diff.StalledEvent(taskID, a3, task("FULLMIGRATING")), m).ID == env.ID {
		t.Errorf("episodes 2 and 3 share an id")
	}
}
