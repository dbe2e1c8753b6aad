package poller_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/state"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// outageTask goes FULLMIGRATING -> FAILED (10 s, a few cycles) -> RUNNING,
// all while NATS is down in these tests.
const outageTask = "0f000000000000000000000000000001"

const outageScenario = `project_id: ` + project + `
tasks:
  - id: ` + outageTask + `
    name: move-outage
    migration_type: online_migration
    steps:
      - {at: 0s, status: FULLMIGRATING}
      - {at: 10s, status: FAILED, error_message: "source unreachable"}
      - {at: 20s, status: RUNNING}
`

// journaled is a watcher that journals what the store does not take:
// in the file path ("" memory), told by its connection when it is down.
func (e *env) journaled(path string) *watcher {
	e.t.Helper()
	return e.journaledWith(path, poller.Options{TaskIDs: []string{outageTask}, Detail: poller.DetailEveryCycle})
}

// journaledWith is journaled with the poller's options o.
func (e *env) journaledWith(path string, o poller.Options) *watcher {
	e.t.Helper()
	var w *watcher
	var mu sync.Mutex
	o.Journal = poller.JournalOptions{Path: path}
	o.Offline = func() bool {
		mu.Lock()
		defer mu.Unlock()
		return w != nil && !w.nc.IsConnected()
	}
	w = e.newWatcher(o)
	mu.Lock()
	defer mu.Unlock()
	return w
}

// TestJournalOnAnyStoreFailure: without word of the connection (Offline
// unset), the first write that fails (here: times out, NATS gone) starts
// the journal; the outage's FAILED is still published after it.
func TestJournalOnAnyStoreFailure(t *testing.T) {
	e := newEnv(t, outageScenario, nil)
	w := e.newWatcher(poller.Options{TaskIDs: []string{outageTask}, Detail: poller.DetailEveryCycle})
	restart := e.outageAt(w, 10, 20)
	restart()
	testutil.Eventually(t, "the watcher's connection back", w.nc.IsConnected)
	// The write that timed out at 10 s was sent when the connection came
	// back (the client's reconnect buffer): that FAILED was committed then
	// and is published by the outbox, not the journal. It may land while
	// the first cycle after the outage reads the record: that cycle then
	// loses its compare-and-swap to it (the watcher's own late write),
	// keeps the snapshot and detects the change again at the next.
	_, err := w.cycleAt(26 * time.Second)
	if errors.Is(err, state.ErrConflict) {
		t.Logf("first cycle after the outage met the buffered write: %v", err)
		_, err = w.cycleAt(28 * time.Second)
	}
	if err != nil {
		t.Fatalf("cycle after the outage: %v", err)
	}
	e.delayedChain(false, true)
}

// outage runs the cycles of the scenario's outage on w: NATS stopped after
// the 5 s cycle, cycles every 2 s from 8 s to 24 s (FAILED seen from 10 s
// to 18 s), each journaling what it saw.
func (e *env) outage(w *watcher) (restart func()) {
	e.t.Helper()
	return e.outageAt(w, 8, 10, 12, 14, 16, 18, 20, 22, 24)
}

// outageAt is outage with the cycles at the given seconds.
func (e *env) outageAt(w *watcher, secs ...int) (restart func()) {
	e.t.Helper()
	for _, s := range []int{0, 5} {
		if _, err := w.cycleAt(time.Duration(s) * time.Second); err != nil {
			e.t.Fatalf("cycle at %ds: %v", s, err)
		}
	}
	srv, restart := e.externalNATS()
	srv().Shutdown()
	srv().WaitForShutdown()
	testutil.Eventually(e.t, "the watcher's connection down", func() bool { return !w.nc.IsConnected() })
	for _, s := range secs {
		// No deadline of the test's: the store's calls time out by
		// themselves (JetStream's default), as in a running watcher.
		e.at(time.Duration(s) * time.Second)
		if _, err := w.p.Cycle(e.ctx); err == nil {
			e.t.Fatalf("cycle at %ds with NATS down: no error", s)
		}
	}
	if n := w.p.Journaled(); n != 2 {
		e.t.Fatalf("%d observations journaled, want 2 (FAILED at 10s, RUNNING at 20s)", n)
	}
	return restart
}

// delayedChain checks the stream's status changes of the task: the first
// sight's discovered aside, FULLMIGRATING -> FAILED seen at 10 s and
// FAILED -> RUNNING seen at 20 s, in order, each once, marked delayed as
// delayed says (with observed_at, the envelope's time).
func (e *env) delayedChain(delayed ...bool) {
	e.t.Helper()
	envs := e.streamEvents()
	var got []string
	for _, env := range envs {
		if env.Data.TaskID != outageTask || env.Data.Kind != "status_changed" {
			continue
		}
		at := env.Time.Sub(e.t0).String()
		if o := env.Data.ObservedAt; env.Data.Delayed && (o == nil || !o.Equal(env.Time)) {
			at += " (observed_at " + o.String() + ")"
		}
		got = append(got, env.Data.PreviousStatus.Normalized+"->"+env.Data.CurrentStatus.Normalized+
			" delayed="+boolStr(env.Data.Delayed)+" at="+at+" gap="+env.Data.Gap)
	}
	want := []string{
		"FULLMIGRATING->FAILED delayed=" + boolStr(delayed[0]) + " at=10s gap=",
		"FAILED->RUNNING delayed=" + boolStr(delayed[1]) + " at=20s gap=",
	}
	if !slices.Equal(got, want) {
		e.t.Fatalf("stream's status changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	seen := map[string]bool{}
	for _, env := range envs {
		if seen[env.ID] {
			e.t.Fatalf("event %s twice on the stream", env.ID)
		}
		seen[env.ID] = true
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestStatusWithinNATSOutageIsPublished: a FAILED that begins and ends
// while NATS is down is journaled by the polling watcher and published
// after NATS returns, before anything newer, in order, once, marked
// delayed with the time it was seen.
func TestStatusWithinNATSOutageIsPublished(t *testing.T) {
	e := newEnv(t, outageScenario, nil)
	w := e.journaled(filepath.Join(t.TempDir(), "journal", "p.jsonl"))
	restart := e.outage(w)
	restart()
	testutil.Eventually(t, "the watcher's connection back", w.nc.IsConnected)
	if _, err := w.cycleAt(26 * time.Second); err != nil {
		t.Fatalf("first cycle after the outage: %v", err)
	}
	if n := w.p.Journaled(); n != 0 {
		t.Fatalf("%d observations still journaled after the replay", n)
	}
	e.delayedChain(true, true)
	// The next cycles diff against the replayed snapshot: nothing new.
	before := len(e.streamEvents())
	if _, err := w.cycleAt(28 * time.Second); err != nil {
		t.Fatal(err)
	}
	if after := len(e.streamEvents()); after != before {
		t.Fatalf("a cycle after the replay published %d more event(s)", after-before)
	}
}

// TestRowToldStatusWithinOutageIsPublished: with no detail call in the
// budget (auto, 1 call/s, 1 s cycles: the list page alone), the status
// changes the list rows show during the outage are journaled from the rows
// and published after it, in order, delayed.
func TestRowToldStatusWithinOutageIsPublished(t *testing.T) {
	e := newEnv(t, outageScenario, nil)
	w := e.journaledWith(filepath.Join(t.TempDir(), "p.jsonl"),
		poller.Options{Discover: true, Detail: poller.DetailAuto, RateLimit: 1, Interval: time.Second})
	restart := e.outage(w)
	restart()
	testutil.Eventually(t, "the watcher's connection back", w.nc.IsConnected)
	if _, err := w.cycleAt(26 * time.Second); err != nil {
		t.Fatalf("first cycle after the outage: %v", err)
	}
	e.delayedChain(true, true)
}

// ackLost is a publisher whose Send of one event stores it and then fails,
// as an ack lost when a process dies right after the store took it.
type ackLost struct {
	poller.Publisher
	mu   sync.Mutex
	kind string // the first delayed event to FAILED... of this status fails
	hit  bool
}

func (a *ackLost) SendStored(ctx context.Context, subject, id string, body []byte) (bool, error) {
	env, err := stored(subject, body)
	if err != nil {
		return false, err
	}
	dup, err := a.Publisher.SendStored(ctx, subject, id, body)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil && !a.hit && env.Data.Delayed && env.Data.CurrentStatus != nil && env.Data.CurrentStatus.Normalized == a.kind {
		a.hit = true
		return false, errors.New("ack lost (test)")
	}
	return dup, err
}

// TestJournalSurvivesRestarts: the watcher that journaled the outage is
// gone (killed) before it could replay; the next one, on the same journal
// file, replays it, and dies when the second observation's event is
// stored but not acknowledged (its marker unwritten); a third replays what
// is left. The stream has each transition once, in order, delayed.
func TestJournalSurvivesRestarts(t *testing.T) {
	e := newEnv(t, outageScenario, nil)
	path := filepath.Join(t.TempDir(), "journal", "p.jsonl")
	restart := e.outage(e.journaled(path))
	restart()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no journal file after the outage: %v", err)
	}

	// The second watcher: a new process on the same file.
	lost := &ackLost{kind: "RUNNING"}
	w2 := e.newWatcherWith(poller.Options{
		TaskIDs: []string{outageTask}, Detail: poller.DetailEveryCycle, Journal: poller.JournalOptions{Path: path},
	}, func(p poller.Publisher) poller.Publisher { lost.Publisher = p; return lost })
	if n := w2.p.Journaled(); n != 2 {
		t.Fatalf("the restarted watcher found %d journaled observations, want 2", n)
	}
	if _, err := w2.cycleAt(26 * time.Second); err == nil || !lost.hit {
		t.Fatalf("the replay's second event: err %v, fault hit %v", err, lost.hit)
	}

	w3 := e.newWatcher(poller.Options{
		TaskIDs: []string{outageTask}, Detail: poller.DetailEveryCycle, Journal: poller.JournalOptions{Path: path},
	})
	if n := w3.p.Journaled(); n != 1 {
		t.Fatalf("the third watcher found %d journaled observations, want 1 (the one whose marker the crash beat)", n)
	}
	if _, err := w3.cycleAt(28 * time.Second); err != nil {
		t.Fatalf("third watcher's cycle: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("journal file still there after its replay: %v", err)
	}
	e.delayedChain(true, true)
}

// TestHandOverAfterLostLease: the watcher journaled the outage's changes,
// and when NATS answers again its lease has gone to another replica (in a
// cluster, only its NATS node went away). Tasks the new leader has not
// written since are handed over: their journaled changes are published,
// delayed, in order; a task the new leader wrote keeps its record and the
// journal's observations of it are dropped (no transition backwards).
func TestHandOverAfterLostLease(t *testing.T) {
	for _, tc := range []struct {
		name          string
		newLeaderRuns bool
	}{{"untouched", false}, {"written by the new leader", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, outageScenario, nil)
			var lost sync.Mutex
			leads := true
			w := e.journaledWith(filepath.Join(t.TempDir(), "p.jsonl"), poller.Options{
				TaskIDs: []string{outageTask}, Detail: poller.DetailEveryCycle,
				Fence: func(context.Context) error {
					lost.Lock()
					defer lost.Unlock()
					if !leads {
						return errors.New("lease lost (test)")
					}
					return nil
				},
			})
			restart := e.outage(w)
			restart()
			testutil.Eventually(t, "the watcher's connection back", w.nc.IsConnected)
			lost.Lock()
			leads = false
			lost.Unlock()
			if _, err := w.cycleAt(26 * time.Second); err == nil {
				t.Fatal("a cycle without the lease ran")
			}
			if tc.newLeaderRuns {
				// The new leader sees RUNNING (the task's status at 26 s)
				// against FULLMIGRATING and writes it.
				nl := e.newWatcher(poller.Options{TaskIDs: []string{outageTask}, Detail: poller.DetailEveryCycle})
				if _, err := nl.cycleAt(26 * time.Second); err != nil {
					t.Fatalf("new leader's cycle: %v", err)
				}
			}
			committed, dropped := w.p.HandOver(e.ctx)
			if w.p.Journaled() != 0 {
				t.Fatalf("%d observations left in the journal", w.p.Journaled())
			}
			if !tc.newLeaderRuns {
				if committed != 2 || dropped != 0 {
					t.Fatalf("handed over %d, dropped %d; want 2, 0", committed, dropped)
				}
				e.delayedChain(true, true)
				return
			}
			if committed != 0 || dropped != 2 {
				t.Fatalf("handed over %d, dropped %d; want 0, 2 (the new leader wrote the task)", committed, dropped)
			}
			var got []string
			for _, env := range e.streamEvents() {
				if env.Data.TaskID == outageTask && env.Data.Kind == "status_changed" {
					got = append(got, env.Data.PreviousStatus.Normalized+"->"+env.Data.CurrentStatus.Normalized)
				}
			}
			if !slices.Equal(got, []string{"FULLMIGRATING->RUNNING"}) {
				t.Fatalf("stream's status changes %v, want the new leader's FULLMIGRATING->RUNNING alone", got)
			}
		})
	}
}
