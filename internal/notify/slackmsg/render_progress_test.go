package slackmsg

import (
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// withProgress is env carrying progress: percent (nil: none), lag (nil:
// none), rate in percent per minute (nil: unknown), observed at env's time.
func withProgress(env notify.Envelope, percent *float64, lag *int64, rate *float64) notify.Envelope {
	env.Data.Progress = &notify.Progress{Stats: dcs.Stats{Percent: percent, Lag: lag}, ObservedAt: env.Time, PercentPerMinute: rate}
	return env
}

func f64(v float64) *float64 { return &v }
func i64(v int64) *int64     { return &v }

// TestCardProgressGolden: a card in the full sync shows a bar, the
// percentage and an ETA from the observed rate; in incremental sync the
// lag; without a rate (or after the percentage went back) no ETA. Each as
// Slack receives it.
func TestCardProgressGolden(t *testing.T) {
	t0 := observed()
	full := &Card{}
	full.Apply(withProgress(move("p1", "task-1", "orders-cache", "MIGRATING", "FULLMIGRATING", t0, 2*time.Minute),
		f64(63.5), nil, f64(1.5)))
	golden(t, "card_progress_full.json", RenderCard(full))
	all := texts(RenderCard(full))
	for _, want := range []string{"`█████████████░░░░░░░` 63.5%", "ETA 12:24 UTC (~24m20s after the observation)"} {
		if !strings.Contains(all, want) {
			t.Errorf("full-sync card lacks %q; it says:\n%s", want, all)
		}
	}

	incr := &Card{}
	incr.Apply(withProgress(move("p2", "task-1", "orders-cache", "FULLMIGRATING", "INCRMIGEATING", t0, 40*time.Minute),
		f64(100), i64(4096), nil))
	golden(t, "card_progress_incremental.json", RenderCard(incr))
	if all := texts(RenderCard(incr)); !strings.Contains(all, "lag 4096") || strings.Contains(all, "ETA") {
		t.Errorf("incremental card should show lag 4096 and no ETA; it says:\n%s", all)
	}

	noRate := &Card{}
	noRate.Apply(withProgress(move("p3", "task-1", "orders-cache", "MIGRATING", "FULLMIGRATING", t0, 2*time.Minute),
		f64(10), nil, nil))
	golden(t, "card_progress_no_rate.json", RenderCard(noRate))
	if all := texts(RenderCard(noRate)); !strings.Contains(all, "10.0%") || strings.Contains(all, "ETA") {
		t.Errorf("card without a rate should show 10.0%% and no ETA; it says:\n%s", all)
	}
}

// TestCardProgressLeavesWithActivePhase: an event without progress keeps
// the card's last progress while the task is active; once it is not, the
// card forgets it, so a task restarted later shows none until its own.
func TestCardProgressLeavesWithActivePhase(t *testing.T) {
	t0 := observed()
	r := &Card{}
	r.Apply(withProgress(move("q1", "task-1", "orders-cache", "MIGRATING", "FULLMIGRATING", t0, time.Minute), f64(40), nil, f64(2)))
	r.Apply(move("q2", "task-1", "orders-cache", "FULLMIGRATING", "INCRMIGEATING", t0.Add(time.Minute), time.Minute))
	if !strings.Contains(texts(RenderCard(r)), "40.0%") {
		t.Fatalf("an active task's card lost its progress on an event without it:\n%s", texts(RenderCard(r)))
	}
	r.Apply(move("q3", "task-1", "orders-cache", "INCRMIGEATING", "FAILED", t0.Add(2*time.Minute), time.Minute))
	if all := texts(RenderCard(r)); strings.Contains(all, "Progress") {
		t.Fatalf("a failed task's card still shows progress:\n%s", all)
	} // Restarted: active again, without progress of its own yet; the
	// progress from before the failure is not shown as if it were current.
	r.Apply(move("q4", "task-1", "orders-cache", "FAILED", "MIGRATING", t0.Add(3*time.Minute), time.Minute))
	if all := texts(RenderCard(r)); strings.Contains(all, "Progress") {
		t.Fatalf("a restarted task's card shows the progress from before its failure:\n%s", all)
	}
}
