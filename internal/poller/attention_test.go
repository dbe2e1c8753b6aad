package poller_test

import (
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
