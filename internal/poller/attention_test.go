package poller_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/attention"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/poller"
)

// TestTooLongInStatus: a task left in RUNNING past its allowance gets one
// stalled event, however many cycles it stays there and across a restart
// of the watcher (a new poller over the same store), and one resumed event
// when it moves on.
func TestTooLongInStatus(t *testing.T) {
	e := newEnv(t, oneTask("[{at: 0s, status: RUNNING}, {at: 7200s, status: MIGRATING}]"), nil)
	o := poller.Options{Discover: true, Attention: attention.Config{
		MaxInStatus: map[dcs.Status]time.Duration{dcs.StatusRunning: time.Hour}}}
	w := e.newWatcher(o)
	var got []notify.Envelope
	run := func(w *watcher, mins ...int) {
		t.Helper()
		for _, m := range mins {
			if _, err := w.cycleAt(time.Duration(m) * time.Minute); err != nil {
				t.Fatalf("cycle at %dm: %v", m, err)
			}
		}
		got = append(got, w.take()...)
	}
	run(w, 0, 30, 60, 61, 62, 90)
	w2 := e.newWatcher(o) // a restart: the episode is in the store, not in memory
	run(w2, 95, 100, 119, 120, 121, 180)

	if s := summary(got); !slices.Equal(s, []string{"t1:discovered", "t1:stalled", "t1:status_changed", "t1:resumed"}) {
		t.Fatalf("published %v, want discovered, one stalled, status_changed, one resumed", s)
	}
	if n := e.count(filter("t1", "stalled")); n != 1 {
		t.Errorf("stream holds %d stalled events, want 1", n)
	}
	st, rs := got[1], got[3]
	a := st.Data.Attention
	if a == nil || a.Condition != diff.StatusTooLong || a.Status != "RUNNING" || a.AllowedSeconds != 3600 || !a.Since.Equal(e.t0) {
		t.Fatalf("stalled data.attention %+v, want status_too_long in RUNNING since %v, 3600 s allowed", a, e.t0)
	}
	if !strings.HasSuffix(st.NATSSubject, ".t1.stalled.RUNNING.in_progress") || st.Data.Severity != notify.SeverityWarning {
		t.Errorf("stalled on %s, severity %s; want ...t1.stalled.RUNNING.in_progress, warning", st.NATSSubject, st.Data.Severity)
	}
	ra := rs.Data.Attention
	if ra == nil || ra.Episode != a.Episode || ra.ClearedBy != diff.ClearedStatusChanged || ra.ClearedAt == nil ||
		!ra.ClearedAt.Equal(e.t0.Add(2*time.Hour)) {
		t.Errorf("resumed data.attention %+v, want episode %d cleared by status_changed at 2h", ra, a.Episode)
	}
	if rs.Data.Severity != notify.SeverityInfo || !strings.HasSuffix(rs.NATSSubject, ".t1.resumed.MIGRATING.in_progress") {
		t.Errorf("resumed on %s, severity %s", rs.NATSSubject, rs.Data.Severity)
	}
	if ent, _ := w2.snaps.Get(project, "t1"); len(ent.Attention) != 0 || ent.AttentionEpisodes != 1 {
		t.Errorf("record keeps %+v (counter %d), want no open episode, counter 1", ent.Attention, ent.AttentionEpisodes)
	}
}

// minutes runs w's cycles at each minute from a to b.
func minutes(t *testing.T, w *watcher, a, b int) []notify.Envelope {
	t.Helper()
	for m := a; m <= b; m++ {
		if _, err := w.cycleAt(time.Duration(m) * time.Minute); err != nil {
			t.Fatalf("cycle at %dm: %v", m, err)
		}
	}
	return w.take()
}

// TestStall: a full sync stuck at 63% gets one stalled event once its
// progress has not moved for stall_after, with its log tail, none again
// across a restart, and one resumed event when it moves.
func TestStall(t *testing.T) {
	e := attentionEnv(t, fmt.Sprintf(`project_id: %s
tasks:
  - id: t1
    steps:
      - at: 0s
        status: FULLMIGRATING
        progress: {percent: {from: 0, to: 63, over: 7m}}
        logs: [{after: 10m, level: ERROR, message: "target slow: password=%s refused"}]
      - {at: 45m, progress: {percent: {from: 64, to: 80, over: 10m}}}
`, project, plantedPW))
	o := poller.Options{Discover: true, Attention: attention.Config{StallAfter: 15 * time.Minute}}
	evs := minutes(t, e.newWatcher(o), 0, 25)
	// A restart: the samples are gone, the episode is not; the new
	// watcher's own 15 minutes at 63% (26m to 41m) open nothing again.
	evs = append(evs, minutes(t, e.newWatcher(o), 26, 50)...)

	if s := summary(evs); !slices.Equal(s, []string{"t1:discovered", "t1:stalled", "t1:resumed"}) {
		t.Fatalf("published %v, want discovered, one stalled, one resumed", s)
	}
	a := evs[1].Data.Attention
	if a == nil || a.Condition != diff.ProgressStalled || a.Percent == nil || *a.Percent != 63 ||
		!a.Since.Equal(e.t0.Add(7*time.Minute)) || !evs[1].Time.Equal(e.t0.Add(22*time.Minute)) {
		t.Errorf("stalled at %v with %+v, want progress_stalled at 63%% since 7m, told at 22m", evs[1].Time, a)
	}
	if tail := evs[1].Data.LogTail; len(tail) != 1 || tail[0].Message != "target slow: password=<secret> refused" || e.sim.Calls().Logs != 1 {
		t.Errorf("stall's log tail %+v after %d logs calls, want the one line, scrubbed, after 1", tail, e.sim.Calls().Logs)
	}
	r := evs[2].Data.Attention
	if r == nil || r.Episode != a.Episode || r.ClearedBy != diff.ClearedRecovered || !evs[2].Time.Equal(e.t0.Add(45*time.Minute)) {
		t.Errorf("resumed at %v with %+v, want episode %d recovered at 45m", evs[2].Time, r, a.Episode)
	}
	if evs[2].Data.LogTail != nil {
		t.Errorf("resumed carries a log tail")
	}
}

// TestLagGrowing: an incremental lag that grows over the window gets one
// stalled event and, once it falls to 80%% of what it reached, one resumed.
func TestLagGrowing(t *testing.T) {
	e := attentionEnv(t, fmt.Sprintf(`project_id: %s
tasks:
  - id: t1
    steps:
      - {at: 0s, status: INCRMIGEATING, progress: {percent: 100, lag: {from: 1000, to: 2500, over: 15m}}}
      - {at: 15m, progress: {percent: 100, lag: {from: 2500, to: 0, over: 500s}}}
`, project))
	w := e.newWatcher(poller.Options{Discover: true, Attention: attention.Config{LagGrowingFor: 10 * time.Minute, MaxLag: 1 << 40}})
	evs := minutes(t, w, 0, 30)
	if s := summary(evs); !slices.Equal(s, []string{"t1:discovered", "t1:stalled", "t1:resumed"}) {
		t.Fatalf("published %v", s)
	}
	a, r := evs[1].Data.Attention, evs[2].Data.Attention
	if a.Condition != diff.LagGrowing || *a.LagFrom != 1000 || *a.Lag != 2000 || !evs[1].Time.Equal(e.t0.Add(10*time.Minute)) {
		t.Errorf("stalled at %v with %+v, want lag_growing from 1000 to 2000 at 10m", evs[1].Time, a)
	}
	// 2500 at 15m, then 300 less a minute: 1600 (80% of 2000) at 18m.
	if *r.ClearedLag != 1600 || !evs[2].Time.Equal(e.t0.Add(18*time.Minute)) {
		t.Errorf("resumed at %v with %+v, want at 18m at 1600", evs[2].Time, r)
	}
	if n := e.sim.Calls().Logs; n != 0 {
		t.Errorf("%d logs calls for a lag episode, want none", n)
	}
}

// TestTooLongInStatusTwoReplicas: two watchers over one store, taking
// turns, tell the episode once and its end once.
func TestTooLongInStatusTwoReplicas(t *testing.T) {
	e := newEnv(t, oneTask("[{at: 0s, status: RUNNING}, {at: 7200s, status: MIGRATING}]"), nil)
	o := poller.Options{Discover: true, Attention: attention.Config{
		MaxInStatus: map[dcs.Status]time.Duration{dcs.StatusRunning: time.Hour}}}
	ws := []*watcher{e.newWatcher(o), e.newWatcher(o)}
	for i, m := range []int{0, 1, 30, 60, 61, 62, 63, 90, 119, 120, 121, 122} {
		w := ws[i%2]
		if _, err := w.cycleAt(time.Duration(m) * time.Minute); err != nil {
			// A replica whose cached record is behind loses the
			// compare-and-swap: the change is detected again next time.
			t.Logf("cycle at %dm: %v", m, err)
		}
	}
	if n, r := e.count(filter("t1", "stalled")), e.count(filter("t1", "resumed")); n != 1 || r != 1 {
		t.Errorf("stream holds %d stalled and %d resumed events, want 1 and 1", n, r)
	}
}
