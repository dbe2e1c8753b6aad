package poller_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/state"
)

var twoTasks = fmt.Sprintf(`
project_id: %s
tasks:
  - id: moving
    steps: [{at: 0s, status: RUNNING}, {at: 10s, status: FULLMIGRATING}]
  - id: idle
    steps: [{at: 0s, status: RUNNING}]
`, project)

// TestRestartKeepsState: a new watcher on the same bucket picks up where the
// old one stopped: no second discovery, and the time in the previous status
// counts from the old watcher's first sight of it.
func TestRestartKeepsState(t *testing.T) {
	for _, tc := range []struct {
		name    string
		detail  poller.Detail
		fetched int // detail calls of the restarted watcher's first cycle
	}{
		// List-driven, the stored snapshots stand in for the rows seen
		// before the restart: a restart costs no detail call per task.
		{"list-driven", poller.DetailOnChange, 0},
		{"every cycle", poller.DetailEveryCycle, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testRestartKeepsState(t, tc.detail, tc.fetched)
		})
	}
}

func testRestartKeepsState(t *testing.T, detail poller.Detail, fetched int) {
	e := newEnv(t, twoTasks, nil)
	first := e.newWatcher(poller.Options{Discover: true, Detail: detail})
	if _, err := first.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	if got := len(first.take()); got != 2 {
		t.Fatalf("first watcher published %d events, want 2 discoveries", got)
	}

	second := e.newWatcher(poller.Options{Discover: true, Detail: detail})
	st, err := second.cycleAt(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(second.take()); len(got) != 0 {
		t.Errorf("restarted watcher published %v for unchanged tasks", got)
	}
	if st.Fetched != fetched || st.Writes != 0 {
		t.Errorf("restarted watcher: stats %+v, want %d fetched, 0 writes", st, fetched)
	}

	if _, err := second.cycleAt(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	evs := second.take()
	if got := summary(evs); !slices.Equal(got, []string{"moving:status_changed"}) {
		t.Fatalf("restarted watcher published %v, want moving:status_changed", got)
	}
	d := evs[0].Data
	if d.PreviousStatus == nil || d.PreviousStatus.Raw != "RUNNING" {
		t.Errorf("previous status = %+v, want RUNNING", d.PreviousStatus)
	}
	if d.PreviousStatusSeconds == nil || *d.PreviousStatusSeconds != 10 {
		t.Errorf("previous_status_seconds = %v, want 10 (RUNNING since the first watcher's cycle)", d.PreviousStatusSeconds)
	}
	if got := e.count(prefix + ".>"); got != 3 {
		t.Errorf("stream holds %d events, want 3", got)
	}
}

// TestTwoReplicas: two watchers on the same bucket see the same change in
// the same cycle: JetStream keeps one event, a snapshot write of one of them
// fails with state.ErrConflict (the change is told from the list row, then
// completed by the detail answer: two writes a cycle, so each replica may
// lose one), and a loser's next cycle publishes nothing.
func TestTwoReplicas(t *testing.T) {
	e := newEnv(t, twoTasks, nil)
	a := e.newWatcher(poller.Options{Discover: true})
	if _, err := a.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	b := e.newWatcher(poller.Options{Discover: true}) // loads a's snapshots

	e.at(10 * time.Second)
	ws := []*watcher{a, b}
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() { _, errs[i] = w.cycle() })
	}
	wg.Wait()

	var losers []*watcher
	for i, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, state.ErrConflict):
			losers = append(losers, ws[i])
		default:
			t.Errorf("replica %d: %v", i, err)
		}
	}
	if len(losers) == 0 {
		t.Fatalf("both replicas advanced the snapshot unopposed (errors %v), want a state.ErrConflict", errs)
	}
	if got := e.count(filter("moving", "status_changed")); got != 1 {
		t.Errorf("stream holds %d status_changed events for the task, want 1", got)
	}
	total := e.count(prefix + ".>")

	for _, loser := range losers {
		loser.take()
	}
	for i, loser := range losers {
		if _, err := loser.cycleAt(11 * time.Second); err != nil {
			t.Fatalf("loser %d's next cycle: %v", i, err)
		}
		if got := summary(loser.take()); len(got) != 0 {
			t.Errorf("loser %d's next cycle published %v, want nothing", i, got)
		}
	}
	if got := e.count(prefix + ".>"); got != total {
		t.Errorf("stream grew from %d to %d events", total, got)
	}
}

// TestOwedEventsOfAnotherWriterAreSettled: a leader that lost its lease a
// moment ago (its check passed, then the lease moved) writes a task's new
// snapshot with the event it owes, and is stopped before publishing it.
// The new leader, whose cache predates that write, finds the change too:
// its write fails on the revision, and it must then publish the event the
// record owes, although the task shows no further change (and, a new
// poller, it has no list row of its own to compare).
func TestOwedEventsOfAnotherWriterAreSettled(t *testing.T) {
	e := newEnv(t, twoTasks, nil)
	first := e.newWatcher(poller.Options{Discover: true})
	if _, err := first.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	// b takes the lease over: a new poller, the snapshots read at once.
	b := e.newWatcher(poller.Options{Discover: true})
	// The stale leader: its fence lets the snapshot write through, then
	// says the lease is gone before the publish.
	var checks int
	var mu sync.Mutex
	stale := e.newWatcher(poller.Options{Discover: true, Fence: func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		checks++
		if checks > 2 { // the cycle's start and the snapshot write
			return errors.New("lease lost")
		}
		return nil
	}})
	if _, err := stale.cycleAt(10 * time.Second); err == nil {
		t.Fatal("the stale leader's cycle did not stop at the publish")
	}
	if got := e.count(filter("moving", "status_changed")); got != 0 {
		t.Fatalf("the stale leader published %d status_changed", got)
	}
	// b (the new leader) diffs against its older cache: its write loses.
	if _, err := b.cycleAt(11 * time.Second); err != nil && !errors.Is(err, state.ErrConflict) {
		t.Fatalf("new leader: %v", err)
	}
	if _, err := b.cycleAt(12 * time.Second); err != nil {
		t.Fatalf("new leader's next cycle: %v", err)
	}
	if got := e.count(filter("moving", "status_changed")); got != 1 {
		t.Errorf("stream holds %d status_changed events for the task, want 1 (the one the record owed)", got)
	}
	if ent, _ := b.snaps.Get(project, "moving"); len(ent.Pending) != 0 {
		t.Errorf("the record still owes %d event(s)", len(ent.Pending))
	}
}
