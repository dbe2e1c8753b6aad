package poller_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/poller"
)

// streamEvents reads every event the stream holds, in order.
func (e *env) streamEvents() []notify.Envelope {
	e.t.Helper()
	return readStream(e.t, e.js)
}

func readStream(t *testing.T, js jetstream.JetStream) []notify.Envelope {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, streamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []notify.Envelope
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		var env notify.Envelope
		if err := json.Unmarshal(m.Data, &env); err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		env.NATSSubject = m.Subject
		out = append(out, env)
	}
	return out
}

// transitions lists a task's status_changed events as "FROM->TO".
func transitions(envs []notify.Envelope, task string) []string {
	var out []string
	for _, env := range envs {
		if env.Data.TaskID == task && env.Data.Kind == "status_changed" {
			out = append(out, env.Data.PreviousStatus.Normalized+"->"+env.Data.CurrentStatus.Normalized)
		}
	}
	return out
}

// Bad list answers while 20 tasks exist: nothing is removed, a change made
// meanwhile (to FAILED) is a status_changed, and each unusable answer is
// one degraded/recovered pair, not one event per task.
func TestBadListAnswersRemoveNothing(t *testing.T) {
	for _, tc := range []struct {
		kind     string
		fields   string
		unusable bool
	}{
		{"empty_list", "", false},
		{"bare_list", "", true},
		{"short_list", "", true},
		{"nulls", "fields: [migration_tasks]", true},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			for _, detail := range []poller.Detail{poller.DetailOnChange, poller.DetailEveryCycle} {
				// Instances with their own statuses and a failure reason:
				// what only the list rows carry.
				sc := fleet(20, fmt.Sprintf("  - {at: 10s, for: 20s, kind: %s, %s}\n", tc.kind, tc.fields))
				// task-0003 fails while the list is bad.
				sc = strings.Replace(sc, "  - id: task-0003\n    name: move-3\n    migration_type: online_migration\n    steps:\n      - {at: 0s, status: RUNNING}\n",
					"  - id: task-0003\n    name: move-3\n    migration_type: online_migration\n    steps:\n      - {at: 0s, status: RUNNING}\n      - {at: 15s, status: FAILED}\n", 1)
				sc = strings.ReplaceAll(sc, "    migration_type: online_migration\n",
					"    migration_type: online_migration\n    source: {name: old, addrs: '10.0.0.1:6379', status: RUNNING}\n    target: {name: new, addrs: '10.0.0.2:6379', status: RUNNING}\n")
				e := newEnv(t, sc, nil)
				w := e.newWatcher(poller.Options{Discover: true, Detail: detail})
				for _, at := range []time.Duration{0, 12 * time.Second, 16 * time.Second, 20 * time.Second, 31 * time.Second, 32 * time.Second} {
					_, _ = w.cycleAt(at) // an unusable list is an error of the cycle
				}
				evs := e.streamEvents()
				if n := countKind(evs, "removed"); n != 0 {
					t.Errorf("%s: %d removed events for tasks that exist, want 0", detail, n)
				}
				if n := countKind(evs, "discovered"); n != 20 {
					t.Errorf("%s: %d discovered events, want 20 (no rediscovery)", detail, n)
				}
				if got := transitions(evs, "task-0003"); !slices.Equal(got, []string{"RUNNING->FAILED"}) {
					t.Errorf("%s: task-0003 transitions %v, want RUNNING->FAILED", detail, got)
				}
				if n := countKind(evs, "changed"); n != 0 {
					t.Errorf("%s: %d changed events (list-only fields blanked?), want 0", detail, n)
				}
				wantBlind := 0
				if tc.unusable {
					wantBlind = 1
				}
				if d, r := countKind(evs, "watch_degraded"), countKind(evs, "watch_recovered"); d != wantBlind || r != wantBlind {
					t.Errorf("%s: %d degraded, %d recovered, want %d each", detail, d, r, wantBlind)
				}
			}
		})
	}
}

// A task missing from the list is removed only when its detail call says
// it is gone, at most AbsentChecks a cycle; one that answers stays.
func TestAbsentTasksConfirmedWithinBudget(t *testing.T) {
	sc := fleet(30, "")
	// 25 tasks deleted at 10s; task-0029 vanishes from the list only
	// (the list hides it: a fault of that task's rows is not modelled, so
	// it is a task whose name the filter stops matching below).
	for i := range 25 {
		id := taskID(i)
		sc = strings.Replace(sc, "  - id: "+id+"\n", "  - id: "+id+"\n    removed_at: 10s\n", 1)
	}
	e := newEnv(t, sc, nil)
	w := e.newWatcher(poller.Options{Discover: true, AbsentChecks: 10})
	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	w.take()
	var perCycle []int
	for i := 1; i <= 4; i++ {
		before := e.sim.Calls().Detail
		if _, err := w.cycleAt(10*time.Second + time.Duration(i)*time.Second); err != nil {
			t.Fatal(err)
		}
		if calls := e.sim.Calls().Detail - before; calls > 10 {
			t.Errorf("cycle %d made %d detail calls, want at most 10 (AbsentChecks)", i, calls)
		}
		perCycle = append(perCycle, countKind(w.take(), "removed"))
	}
	if !slices.Equal(perCycle, []int{10, 10, 5, 0}) {
		t.Errorf("removed per cycle %v, want [10 10 5 0]", perCycle)
	}
	if n := countKind(e.streamEvents(), "removed"); n != 25 {
		t.Errorf("stream holds %d removed events, want 25", n)
	}
}

// A task that comes back after it was removed is diffed against its last
// snapshot: a status change is a status_changed, not a first sight.
func TestTaskBackAfterRemoval(t *testing.T) {
	sc := fmt.Sprintf(`
project_id: %s
tasks:
  - id: t1
    steps: [{at: 0s, status: FULLMIGRATING}, {at: 20s, status: INCRMIGEATING}]
    removed_at: 10s
`, project)
	e := newEnv(t, sc, nil)
	w := e.newWatcher(poller.Options{TaskIDs: []string{"t1"}})
	for _, at := range []time.Duration{0, 11 * time.Second} {
		if _, err := w.cycleAt(at); err != nil {
			t.Fatal(err)
		}
	}
	// The simulator cannot bring a removed task back: a second watcher
	// over a scenario where it exists again plays the API's change of mind.
	sc2 := fmt.Sprintf("project_id: %s\ntasks:\n  - id: t1\n    steps: [{at: 0s, status: INCRMIGEATING}]\n", project)
	e2 := e.withScenario(sc2)
	w2 := e2.newWatcher(poller.Options{TaskIDs: []string{"t1"}})
	if _, err := w2.cycleAt(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	evs := e.streamEvents()
	if got := summary(evs); !slices.Equal(got, []string{"t1:discovered", "t1:removed", "t1:status_changed"}) {
		t.Fatalf("stream %v, want discovered, removed, status_changed", got)
	}
	if got := transitions(evs, "t1"); !slices.Equal(got, []string{"FULLMIGRATING->INCRMIGEATING"}) {
		t.Errorf("transitions %v", got)
	}
}

// A flap A->B->A->B within the duplicate window is three events: the
// revision in the id tells a repeat from a re-detection.
//
// The API here sends no updated_at, so both A->B changes have byte-identical
// snapshots: content alone would give them one id.
func TestFlapGivesEveryTransition(t *testing.T) {
	e := newEnv(t, oneTask("[{at: 0s, status: FULLMIGRATING}, {at: 5s, status: INCRMIGEATING}, {at: 10s, status: FULLMIGRATING}, {at: 15s, status: INCRMIGEATING}]"), withoutUpdatedAt)
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailEveryCycle})
	for _, at := range []time.Duration{0, 5 * time.Second, 10 * time.Second, 15 * time.Second} {
		if _, err := w.cycleAt(at); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"FULLMIGRATING->INCRMIGEATING", "INCRMIGEATING->FULLMIGRATING", "FULLMIGRATING->INCRMIGEATING"}
	if got := transitions(e.streamEvents(), "t1"); !slices.Equal(got, want) {
		t.Errorf("stream transitions %v, want %v", got, want)
	}
}

// Two projects' API outages on one stream: one watch_degraded each.
func TestTwoProjectsOutagesOnOneStream(t *testing.T) {
	e := newEnv(t, fleet(1, "  - {at: 5s, for: 10s, kind: server_error}\n"), nil)
	a := e.newWatcher(poller.Options{Discover: true})
	b := e.newWatcher(poller.Options{Discover: true, ProjectID: "another-project"})
	for _, at := range []time.Duration{6 * time.Second, 7 * time.Second} {
		_, _ = a.cycleAt(at)
		_, _ = b.cycleAt(at)
	}
	byProject := map[string]int{}
	for _, env := range e.streamEvents() {
		if env.Data.Kind == "watch_degraded" {
			byProject[env.Data.ProjectID]++
		}
	}
	if byProject[project] != 1 || byProject["another-project"] != 1 {
		t.Errorf("watch_degraded per project %v, want one each", byProject)
	}
}

// lossyPublisher is the real publisher, except that it can lose the ack of
// a publish that went through, as a timeout while NATS goes away does.
type lossyPublisher struct {
	poller.Publisher
	loseAfter func() // called after a publish the ack of which is lost; nil: acks arrive
}

func (l *lossyPublisher) SendStored(ctx context.Context, subject, id string, body []byte) (bool, error) {
	dup, err := l.Publisher.SendStored(ctx, subject, id, body)
	if err == nil && l.loseAfter != nil {
		f := l.loseAfter
		l.loseAfter = nil
		f()
		return false, fmt.Errorf("publish %s: %w", id, context.DeadlineExceeded)
	}
	return dup, err
}

// An ack lost as NATS goes away: INCR->FULL is stored but the watcher does
// not know; the task goes back to INCR while NATS is down. After recovery
// the stream holds INCR->FULL and FULL->INCR once each, and the last event
// agrees with the snapshot and the API.
func TestLostAckResolvedBeforeNextDiff(t *testing.T) {
	e := newEnv(t, oneTask("[{at: 0s, status: INCRMIGEATING}, {at: 5s, status: FULLMIGRATING}, {at: 8s, status: INCRMIGEATING}]"), nil)
	srv, restart := e.externalNATS()
	lossy := &lossyPublisher{}
	w := e.newWatcherWith(poller.Options{Discover: true, Detail: poller.DetailEveryCycle}, func(p poller.Publisher) poller.Publisher {
		lossy.Publisher = p
		return lossy
	})
	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	lossy.loseAfter = func() { srv().Shutdown(); srv().WaitForShutdown() }
	if _, err := w.cycleAt(5 * time.Second); err == nil {
		t.Fatal("cycle whose ack was lost reported no error")
	}
	if _, err := w.cycleAt(9 * time.Second); err == nil { // NATS down, task back to INCR
		t.Fatal("cycle without NATS reported no error")
	}
	restart()
	for _, at := range []time.Duration{10 * time.Second, 11 * time.Second} {
		if _, err := w.cycleAt(at); err != nil && at == 11*time.Second {
			t.Fatalf("cycle at %s after recovery: %v", at, err)
		}
	}
	evs := e.streamEvents()
	want := []string{"INCRMIGEATING->FULLMIGRATING", "FULLMIGRATING->INCRMIGEATING"}
	if got := transitions(evs, "t1"); !slices.Equal(got, want) {
		t.Fatalf("stream transitions %v, want %v", got, want)
	}
	ids := map[string]bool{}
	for _, env := range evs {
		if ids[env.ID] {
			t.Errorf("event id %s twice on the stream", env.ID)
		}
		ids[env.ID] = true
	}
	// The event whose ack was lost is this process's: its hook hears it.
	if got := transitions(w.take(), "t1"); !slices.Equal(got, want) {
		t.Errorf("the watcher heard %v, want %v", got, want)
	}
	snap, _ := w.snaps.Get(project, "t1")
	if snap.Task == nil || snap.Task.Status != "INCRMIGEATING" || len(snap.Pending) != 0 {
		t.Errorf("snapshot %+v (pending %d), want INCRMIGEATING with nothing owed", snap.Task, len(snap.Pending))
	}
}

// A crash between the snapshot write and the publish (the outbox written,
// nothing published): the next process publishes the owed event once.
func TestCrashAfterOutboxWrite(t *testing.T) {
	e := newEnv(t, oneTask("[{at: 0s, status: INCRMIGEATING}, {at: 5s, status: FULLMIGRATING}]"), nil)
	crash := errors.New("process killed")
	w := e.newWatcherWith(poller.Options{Discover: true, Detail: poller.DetailEveryCycle}, func(p poller.Publisher) poller.Publisher {
		return &failingPublisher{Publisher: p, fail: func(env notify.Envelope) error {
			if env.Data.Kind == "status_changed" {
				return crash
			}
			return nil
		}}
	})
	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.cycleAt(5 * time.Second); !errors.Is(err, crash) {
		t.Fatalf("cycle at 5s: %v, want the crash", err)
	}
	// A new process on the same store.
	w2 := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailEveryCycle})
	for _, at := range []time.Duration{6 * time.Second, 7 * time.Second} {
		if _, err := w2.cycleAt(at); err != nil {
			t.Fatal(err)
		}
	}
	if got := transitions(e.streamEvents(), "t1"); !slices.Equal(got, []string{"INCRMIGEATING->FULLMIGRATING"}) {
		t.Errorf("stream transitions %v, want the change once", got)
	}
}

// failingPublisher fails the publishes fail says to, before they are sent.
type failingPublisher struct {
	poller.Publisher
	fail func(notify.Envelope) error
}

func (f *failingPublisher) SendStored(ctx context.Context, subject, id string, body []byte) (bool, error) {
	env, err := stored(subject, body)
	if err != nil {
		return false, err
	}
	if err := f.fail(env); err != nil {
		return false, err
	}
	return f.Publisher.SendStored(ctx, subject, id, body)
}

// stored is the envelope an outbox stored as body, to be published on
// subject.
func stored(subject string, body []byte) (notify.Envelope, error) {
	var env notify.Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return env, fmt.Errorf("stored event on %s: %w", subject, err)
	}
	env.NATSSubject = subject
	return env, nil
}

// A task that went through several statuses while no watcher ran is one
// status_changed from the last known status to the current one, marked as
// possibly skipping states; a change seen by a running watcher is not.
func TestMissedWhileDown(t *testing.T) {
	e := newEnv(t, oneTask("[{at: 0s, status: RUNNING}, {at: 5s, status: FULLMIGRATING}, {at: 10s, status: INCRMIGEATING}, {at: 30s, status: TERMINATING}]"), nil)
	w := e.newWatcher(poller.Options{Discover: true})
	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	// Down from 1s to 20s; a new process.
	w2 := e.newWatcher(poller.Options{Discover: true})
	for _, at := range []time.Duration{20 * time.Second, 31 * time.Second} {
		if _, err := w2.cycleAt(at); err != nil {
			t.Fatal(err)
		}
	}
	var changes []notify.Envelope
	for _, env := range e.streamEvents() {
		if env.Data.Kind == "status_changed" {
			changes = append(changes, env)
		}
	}
	if got := transitions(changes, "t1"); !slices.Equal(got, []string{"RUNNING->INCRMIGEATING", "INCRMIGEATING->TERMINATING"}) {
		t.Fatalf("transitions %v", got)
	}
	if d := changes[0].Data; !d.MayHaveSkipped || d.Gap != "watcher restarted" {
		t.Errorf("change across the downtime: may_have_skipped=%v gap=%q, want true, watcher restarted", d.MayHaveSkipped, d.Gap)
	}
	if d := changes[1].Data; d.MayHaveSkipped || d.Gap != "" {
		t.Errorf("change seen while running: may_have_skipped=%v gap=%q, want unmarked", d.MayHaveSkipped, d.Gap)
	}
}

// withoutUpdatedAt drops updated_at from every answer, as an API version
// that does not send it would.
func withoutUpdatedAt(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var m map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(body, &m) == nil {
			delete(m, "updated_at")
			body, _ = json.Marshal(m)
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}
