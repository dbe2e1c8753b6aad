package poller_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/poller"
)

func oneTask(steps string) string {
	return fmt.Sprintf("project_id: %s\ntasks:\n  - id: t1\n    steps: %s\n", project, steps)
}

// TestUnknownStatus: a status the watcher does not know is passed through
// and flagged, not dropped.
func TestUnknownStatus(t *testing.T) {
	e := newEnv(t, oneTask("[{at: 0s, status: FULLMIGRATING}, {at: 5s, status: WEIRD_NEW_STATE}]"), nil)
	w := e.newWatcher(poller.Options{Discover: true})
	for _, d := range []time.Duration{0, 5 * time.Second} {
		if _, err := w.cycleAt(d); err != nil {
			t.Fatal(err)
		}
	}
	evs := w.take()
	if got := summary(evs); !slices.Equal(got, []string{"t1:discovered", "t1:status_changed"}) {
		t.Fatalf("published %v", got)
	}
	ev := evs[1]
	cur, prev := ev.Data.CurrentStatus, ev.Data.PreviousStatus
	if cur == nil || cur.Known || cur.Raw != "WEIRD_NEW_STATE" {
		t.Errorf("current status = %+v, want raw WEIRD_NEW_STATE, not known", cur)
	}
	if prev == nil || !prev.Known || prev.Raw != "FULLMIGRATING" {
		t.Errorf("previous status = %+v, want known FULLMIGRATING", prev)
	}
	if !strings.HasSuffix(ev.NATSSubject, ".status_changed.WEIRD_NEW_STATE.unknown") {
		t.Errorf("subject = %s, want it to end in the new status", ev.NATSSubject)
	}
}

// TestSpellingVariant: INCRMIGEATING and INCRMIGRATING are one status; a
// change of spelling makes no event at all.
func TestSpellingVariant(t *testing.T) {
	e := newEnv(t, oneTask("[{at: 0s, status: INCRMIGEATING}, {at: 5s, status: INCRMIGRATING}, {at: 10s, status: INCRMIGEATING}, {at: 15s, status: incrmigrating}]"), nil)
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailEveryCycle})
	for _, at := range []time.Duration{0, 5 * time.Second, 10 * time.Second, 15 * time.Second} {
		if _, err := w.cycleAt(at); err != nil {
			t.Fatal(err)
		}
		ent, _ := w.snaps.Get(project, "t1")
		if ent.Task == nil || ent.Task.Status != "INCRMIGEATING" {
			t.Errorf("at %s: stored snapshot %+v, want the first spelling kept", at, ent.Task)
		}
	}
	if got := summary(w.take()); !slices.Equal(got, []string{"t1:discovered"}) {
		t.Errorf("published %v, want the discovery only", got)
	}
	if got := e.count(prefix + "." + project + ".t1.>"); got != 1 {
		t.Errorf("stream holds %d events for t1, want 1", got)
	}
}
