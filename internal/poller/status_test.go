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
	if !strings.HasSuffix(ev.NATSSubject, ".status_changed.WEIRD_NEW_STATE") {
		t.Errorf("subject = %s, want it to end in the new status", ev.NATSSubject)
	}
}

// TestSpellingVariant: INCRMIGEATING and INCRMIGRATING are one status; a
// change of spelling is recorded (raw value) but is not a status change.
func TestSpellingVariant(t *testing.T) {
	e := newEnv(t, oneTask("[{at: 0s, status: INCRMIGEATING}, {at: 5s, status: INCRMIGRATING}, {at: 10s, status: INCRMIGEATING}]"), nil)
	w := e.newWatcher(poller.Options{Discover: true})
	for _, step := range []struct {
		at  time.Duration
		raw string
	}{{0, "INCRMIGEATING"}, {5 * time.Second, "INCRMIGRATING"}, {10 * time.Second, "INCRMIGEATING"}} {
		if _, err := w.cycleAt(step.at); err != nil {
			t.Fatal(err)
		}
		// The snapshot keeps the API's spelling.
		ent, _ := w.snaps.Get(project, "t1")
		if ent.Task == nil || ent.Task.Status != step.raw {
			t.Errorf("at %s: stored snapshot %+v, want raw status %s", step.at, ent.Task, step.raw)
		}
	}
	evs := w.take()
	if got := countKind(evs, "status_changed"); got != 0 {
		t.Errorf("%d status_changed events for a spelling change (%v), want 0", got, summary(evs))
	}
	if got := e.count(filter("t1", "status_changed")); got != 0 {
		t.Errorf("stream holds %d status_changed events, want 0", got)
	}
}
