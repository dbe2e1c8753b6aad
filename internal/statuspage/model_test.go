package statuspage

import (
	"slices"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/state"
)

// TestModelFollowsKVAndStream: the model shows a task's status from its
// snapshot, its last error, its source and target addresses, its recent
// events newest first and one timeline segment per status, all read from
// the bucket and the stream the watcher writes.
func TestModelFollowsKVAndStream(t *testing.T) {
	f := newFixture(t, Options{})
	run := fxTask("t-1", "orders-cache", "RUNNING")
	full := fxTask("t-1", "orders-cache", "FULLMIGRATING")
	failed := fxTask("t-1", "orders-cache", "MIGRATION_FAILED")
	failed.ErrorMessage = "target out of memory"
	f.observe(diff.Discovered, nil, run, 0, 0)
	f.observe(diff.StatusChanged, run, full, 10*time.Minute, 10*time.Minute)
	f.observe(diff.StatusChanged, full, failed, 30*time.Minute, 30*time.Minute)

	v := f.waitTask("t-1", "three events and the failed snapshot", func(v TaskView) bool {
		return len(v.Events) == 3 && v.Status == "MIGRATION_FAILED"
	})
	if v.Outcome != "failed" || v.Phase != "terminal" || v.LastError != "target out of memory" {
		t.Errorf("view = outcome %s phase %s error %q, want failed terminal with the reason", v.Outcome, v.Phase, v.LastError)
	}
	if v.InStatus != 30*time.Minute {
		t.Errorf("in status %s, want 30m (now is t0+1h, failed at t0+30m)", v.InStatus)
	}
	if v.Source.Addr != "10.0.0.1:6379" || v.Target.Addr != "10.0.1.2:6379" || v.Target.Name != "orders-cache-dst" {
		t.Errorf("source %+v target %+v, want their names and addresses", v.Source, v.Target)
	}
	if v.Events[0].Kind != "status_changed" || v.Events[0].Status != "MIGRATION_FAILED" || v.Events[2].Kind != "discovered" {
		t.Errorf("events %+v, want newest first", v.Events)
	}
	var got []string
	for _, s := range v.Timeline {
		got = append(got, s.Status)
	}
	if want := []string{"RUNNING", "FULLMIGRATING", "MIGRATION_FAILED"}; !slices.Equal(got, want) {
		t.Errorf("timeline %v, want %v", got, want)
	}
	if d := v.Timeline[1].To.Sub(v.Timeline[1].From); d != 20*time.Minute {
		t.Errorf("FULLMIGRATING segment lasts %s, want 20m", d)
	}
}

// TestModelKeepsRecentEventsBounded: past MaxEvents a task keeps only its
// newest events.
func TestModelKeepsRecentEventsBounded(t *testing.T) {
	f := newFixture(t, Options{MaxEvents: 3})
	statuses := []string{"RUNNING", "FULLMIGRATING", "INCRMIGEATING", "FULLMIGRATING", "INCRMIGEATING"}
	prev := fxTask("t-2", "sessions", statuses[0])
	f.observe(diff.Discovered, nil, prev, 0, 0)
	for i, s := range statuses[1:] {
		cur := fxTask("t-2", "sessions", s)
		at := time.Duration(i+1) * time.Minute
		f.observe(diff.StatusChanged, prev, cur, at, at)
		prev = cur
	}
	f.waitTask("t-2", "the last change", func(v TaskView) bool {
		return len(v.Events) > 0 && v.Events[0].Time.Equal(f.t0.Add(4*time.Minute))
	})
	v, _ := f.model.Task(fxProject, "t-2")
	if len(v.Events) != 3 || !v.Events[2].Time.Equal(f.t0.Add(2*time.Minute)) {
		t.Errorf("events %+v, want the 3 newest (t0+4m..t0+2m)", v.Events)
	}
}

// TestModelForgetsDeletedKey: a snapshot deleted from the bucket leaves
// the list.
func TestModelForgetsDeletedKey(t *testing.T) {
	f := newFixture(t, Options{})
	f.observe(diff.Discovered, nil, fxTask("t-3", "gone", "RUNNING"), 0, 0)
	f.waitTask("t-3", "the task", func(TaskView) bool { return true })
	kv, err := f.js.KeyValue(f.ctx, fxBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(f.ctx, state.Key(fxProject, "t-3")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task to leave the model", func() bool { _, ok := f.model.Task(fxProject, "t-3"); return !ok })
}

// TestModelShowsAttentionProgressAndSilence: a stall opens (record and
// event) and resumes, an event's progress is the task's, and an event a
// silence held is marked so.
func TestModelShowsAttentionProgressAndSilence(t *testing.T) {
	f := newFixture(t, Options{})
	full := fxTask("t-4", "feeds", "FULLMIGRATING")
	pct, rate := 63.0, 0.5
	f.observeWith(diff.Discovered, nil, full, 0, 0, func(_ *state.Record, env *notify.Envelope) {
		env.Data.Progress = &notify.Progress{Stats: dcs.Stats{Percent: &pct}, ObservedAt: f.t0, PercentPerMinute: &rate}
	})
	f.observeWith(diff.Stalled, nil, full, 20*time.Minute, 0, func(rec *state.Record, env *notify.Envelope) {
		a := diff.Attention{Condition: "progress_stalled", Episode: 1, Since: f.t0.Add(5 * time.Minute), Percent: &pct}
		rec.Attention, env.Data.Attention, env.Data.Silenced = []diff.Attention{a}, &a, "night-window"
	})
	v := f.waitTask("t-4", "the stall", func(v TaskView) bool { return v.Stalled && len(v.Events) == 2 })
	if !slices.Equal(v.Attention, []string{"progress_stalled"}) || v.Progress == nil || *v.Progress.Percent != 63 {
		t.Errorf("attention %v progress %+v, want progress_stalled at 63%%", v.Attention, v.Progress)
	}
	if v.Silenced != "night-window" || !v.Events[0].Silenced || v.Events[1].Silenced {
		t.Errorf("silenced %q, events %+v: want the stalled event held by night-window", v.Silenced, v.Events)
	}
	f.observeWith(diff.Resumed, nil, full, 30*time.Minute, 0, func(rec *state.Record, env *notify.Envelope) {
		env.Data.Attention = &diff.Attention{Condition: "progress_stalled", Episode: 1}
	})
	v = f.waitTask("t-4", "the resume", func(v TaskView) bool { return len(v.Events) == 3 })
	if v.Stalled || len(v.Attention) != 0 || v.Silenced != "" {
		t.Errorf("after resumed: stalled %v attention %v silenced %q, want none", v.Stalled, v.Attention, v.Silenced)
	}
}
