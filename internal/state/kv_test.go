package state_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/state"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

const bucket = "DCS_WATCHER_SNAPSHOTS"

// startJS runs an embedded JetStream server for the test and returns a
// client on it. Each call of newJS on the result is a separate connection,
// as two watcher replicas would have.
func startJS(t *testing.T) func() jetstream.JetStream {
	t.Helper()
	url := testutil.RunJetStream(t, -1, t.TempDir()).ClientURL()
	return func() jetstream.JetStream {
		t.Helper()
		_, js := testutil.Connect(t, url)
		return js
	}
}

func ctxT(t *testing.T) context.Context { return testutil.Context(t, 10*time.Second) }

func open(t *testing.T, js jetstream.JetStream, onCorrupt func(string, error)) *state.Snapshots {
	t.Helper()
	s, err := state.Open(ctxT(t), js, state.BucketOptions{Bucket: bucket, OnCorrupt: onCorrupt})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func record(status string) state.Record {
	return state.Record{
		Task: &dcs.Task{
			ID:     "task-1",
			Name:   "orders",
			Status: status,
			Source: dcs.Instance{Addrs: "10.0.0.1:6379", PasswordSet: true},
		},
		StatusSince: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC),
	}
}

func status(r state.Record) string {
	if r.Task == nil {
		return "<nil task>"
	}
	return r.Task.Status
}

func TestOpenCreatesBucketAndLoadsRecords(t *testing.T) {
	newJS := startJS(t)
	js := newJS()
	a := open(t, js, nil)
	if a.Len() != 0 {
		t.Fatalf("fresh bucket has %d entries", a.Len())
	}
	if _, err := js.KeyValue(ctxT(t), bucket); err != nil {
		t.Fatalf("bucket %s not created: %v", bucket, err)
	}

	for task, st := range map[string]string{"task-1": "MIGRATING", "task-2": "SUCCESS"} {
		if err := a.Put(ctxT(t), "p1", task, record(st)); err != nil {
			t.Fatalf("Put %s: %v", task, err)
		}
	}
	blind := state.Record{Blind: &state.Blindness{Class: "auth", Since: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}, BlindEpisodes: 3}
	if err := a.Put(ctxT(t), "p2", state.API, blind); err != nil {
		t.Fatalf("Put API record: %v", err)
	}

	b := open(t, newJS(), nil)
	if b.Len() != 3 {
		t.Fatalf("second instance loaded %d entries, want 3", b.Len())
	}
	for key, want := range map[string]string{"task-1": "MIGRATING", "task-2": "SUCCESS"} {
		got, ok := b.Get("p1", key)
		if !ok || status(got.Record) != want {
			t.Errorf("Get(%s) = %q, %v; want %q", key, status(got.Record), ok, want)
		}
		wantRev, _ := a.Get("p1", key)
		if got.Revision != wantRev.Revision || got.Revision == 0 {
			t.Errorf("Get(%s) revision %d, writer has %d", key, got.Revision, wantRev.Revision)
		}
		if !got.StatusSince.Equal(record(want).StatusSince) || !got.Task.Source.PasswordSet {
			t.Errorf("Get(%s) = %+v: fields lost in the round trip", key, got.Record)
		}
	}
	if got, _ := b.Get("p2", state.API); got.Blind == nil || got.Blind.Class != "auth" || got.BlindEpisodes != 3 || got.Task != nil {
		t.Errorf("Get(p2, API) = %+v, want the blindness record", got.Record)
	}
	if tasks := b.Tasks("p1"); len(tasks) != 2 {
		t.Errorf("Tasks(p1) = %v, want the two tasks", tasks)
	}
	if tasks := b.Tasks("p2"); len(tasks) != 0 {
		t.Errorf("Tasks(p2) = %v, want none (the API record holds no task)", tasks)
	}
}

func TestPutThenGet(t *testing.T) {
	s := open(t, startJS(t)(), nil)
	key := "task-1"
	if _, ok := s.Get("p", key); ok {
		t.Fatalf("Get before Put found an entry")
	}
	if err := s.Put(ctxT(t), "p", key, record("RUNNING")); err != nil {
		t.Fatalf("first Put: %v", err)
	}
	e1, ok := s.Get("p", key)
	if !ok || status(e1.Record) != "RUNNING" || e1.Revision == 0 {
		t.Fatalf("after first Put: %+v, %v", e1, ok)
	}
	if err := s.Put(ctxT(t), "p", key, record("MIGRATING")); err != nil {
		t.Fatalf("second Put: %v", err)
	}
	e2, _ := s.Get("p", key)
	if status(e2.Record) != "MIGRATING" || e2.Revision <= e1.Revision {
		t.Fatalf("after second Put: status %q revision %d (was %d)", status(e2.Record), e2.Revision, e1.Revision)
	}
}

// race makes a and b both Put key concurrently and checks that exactly one
// wins, the loser gets ErrConflict with its cache refreshed to the winner's
// record, and the loser's next Put succeeds.
func race(t *testing.T, a, b *state.Snapshots, key string) {
	t.Helper()
	recs := []state.Record{record("FULLMIGRATING"), record("FAILED")}
	stores := []*state.Snapshots{a, b}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { errs[i] = stores[i].Put(ctxT(t), "p", key, recs[i]) })
	}
	wg.Wait()

	win, lose := -1, -1
	for i, err := range errs {
		switch {
		case err == nil:
			win = i
		case errors.Is(err, state.ErrConflict):
			lose = i
		default:
			t.Fatalf("Put by replica %d: %v (want nil or ErrConflict)", i, err)
		}
	}
	if win < 0 || lose < 0 {
		t.Fatalf("want exactly one winner and one ErrConflict, got %v", errs)
	}
	winner, _ := stores[win].Get("p", key)
	seen, _ := stores[lose].Get("p", key)
	if status(seen.Record) != status(recs[win]) || seen.Revision != winner.Revision {
		t.Fatalf("loser's cache = %q rev %d, want winner's %q rev %d",
			status(seen.Record), seen.Revision, status(recs[win]), winner.Revision)
	}
	if err := stores[lose].Put(ctxT(t), "p", key, record("SUCCESS")); err != nil {
		t.Fatalf("loser's Put after refresh: %v", err)
	}
	// The winner's cache is now stale: its next Put must conflict, not
	// overwrite.
	if err := stores[win].Put(ctxT(t), "p", key, record("TERMINATED")); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("stale winner's Put = %v, want ErrConflict", err)
	}
	if got, _ := stores[win].Get("p", key); status(got.Record) != "SUCCESS" {
		t.Fatalf("stale winner's cache after conflict = %q, want SUCCESS", status(got.Record))
	}
}

func TestCompareAndSwap(t *testing.T) {
	tests := []struct {
		name  string
		exist bool // the key exists before both replicas open
	}{
		{"update at the same revision", true},
		{"both create a new key", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newJS := startJS(t)
			key := "task-1"
			if tt.exist {
				if err := open(t, newJS(), nil).Put(ctxT(t), "p", key, record("RUNNING")); err != nil {
					t.Fatalf("seed Put: %v", err)
				}
			}
			a, b := open(t, newJS(), nil), open(t, newJS(), nil)
			ea, _ := a.Get("p", key)
			eb, _ := b.Get("p", key)
			if ea.Revision != eb.Revision {
				t.Fatalf("replicas start at revisions %d and %d", ea.Revision, eb.Revision)
			}
			race(t, a, b, key)
		})
	}
}

func TestCorruptRecordIsReportedAndReplaced(t *testing.T) {
	newJS := startJS(t)
	js := newJS()
	good, bad := "good", "bad"
	if err := open(t, js, nil).Put(ctxT(t), "p", good, record("MIGRATING")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	kv, err := js.KeyValue(ctxT(t), bucket)
	if err != nil {
		t.Fatalf("KeyValue: %v", err)
	}
	if _, err := kv.Put(ctxT(t), state.Key("p", bad), []byte("{not json")); err != nil {
		t.Fatalf("plant garbage: %v", err)
	}

	var mu sync.Mutex
	reported := map[string]error{}
	s := open(t, newJS(), func(key string, err error) {
		mu.Lock()
		defer mu.Unlock()
		reported[key] = err
	})
	mu.Lock()
	if len(reported) != 1 || reported[state.Key("p", bad)] == nil {
		t.Fatalf("OnCorrupt heard %v, want only %s", reported, state.Key("p", bad))
	}
	if msg := reported[state.Key("p", bad)].Error(); !strings.Contains(msg, state.Key("p", bad)) {
		t.Errorf("corrupt error %q does not name the key", msg)
	}
	mu.Unlock()

	if e, _ := s.Get("p", good); status(e.Record) != "MIGRATING" {
		t.Errorf("good record next to a corrupt one = %q, want MIGRATING", status(e.Record))
	}
	if e, _ := s.Get("p", bad); e.Task != nil {
		t.Errorf("corrupt record decoded into a task: %+v", e.Task)
	}
	if err := s.Put(ctxT(t), "p", bad, record("RUNNING")); err != nil {
		t.Fatalf("Put over a corrupt record: %v", err)
	}
	if e, _ := open(t, newJS(), nil).Get("p", bad); status(e.Record) != "RUNNING" {
		t.Fatalf("after Put over the corrupt record a new reader sees %q", status(e.Record))
	}
}

func TestKeysSanitised(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"plain", state.Key("0a1b2c", "task-1_x=y"), "0a1b2c.task-1_x=y"},
		{"dot in task", state.Key("p", "a.b"), "p.a_b"},
		{"wildcards", state.Key("p*", "t>"), "p_.t_"},
		{"space and slash", state.Key("my project", "a/b"), "my_project.a_b"},
		{"non-ascii", state.Key("p", "tâche"), "p.t_che"},
		{"control char", state.Key("p", "a\tb"), "p.a_b"},
		{"empty tokens", state.Key("", ""), "_._"},
		{"api key", state.Key("p.1", state.API), "p_1._api"},
		{"api key empty project", state.Key("", state.API), "_._api"},
	}
	js := startJS(t)()
	open(t, js, nil)
	kv, err := js.KeyValue(ctxT(t), bucket)
	if err != nil {
		t.Fatalf("KeyValue: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
			// The KV bucket itself is the judge of what a key may hold.
			if _, err := kv.Put(ctxT(t), tt.got, []byte("{}")); err != nil {
				t.Fatalf("KV rejects key %q: %v", tt.got, err)
			}
		})
	}
}

// TestReloadTakesWhatAnotherWriterDid: a replica that takes a project over
// reloads it: a record another replica advanced comes with its revision, one
// it created appears, one gone from KV leaves the cache; the cached records
// of other projects, "p10" included, stay as they are.
func TestReloadTakesWhatAnotherWriterDid(t *testing.T) {
	newJS := startJS(t)
	js := newJS()
	a := open(t, js, nil)
	for _, k := range [][2]string{{"p1", "t1"}, {"p1", "t2"}, {"p2", "t1"}, {"p10", "t1"}} {
		if err := a.Put(ctxT(t), k[0], k[1], record("RUNNING")); err != nil {
			t.Fatalf("seed Put %s/%s: %v", k[0], k[1], err)
		}
	}
	b := open(t, newJS(), nil)

	if err := a.Put(ctxT(t), "p1", "t1", record("MIGRATING")); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(ctxT(t), "p1", "t3", record("RUNNING")); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctxT(t), bucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range [][2]string{{"p1", "t2"}, {"p2", "t1"}, {"p10", "t1"}} {
		if err := kv.Delete(ctxT(t), state.Key(k[0], k[1])); err != nil {
			t.Fatal(err)
		}
	}

	if err := b.Reload(ctxT(t), "p1"); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	want, _ := a.Get("p1", "t1")
	if got, _ := b.Get("p1", "t1"); status(got.Record) != "MIGRATING" || got.Revision != want.Revision {
		t.Errorf("p1/t1 after Reload: %q revision %d, want MIGRATING revision %d", status(got.Record), got.Revision, want.Revision)
	}
	if _, ok := b.Get("p1", "t3"); !ok {
		t.Error("p1/t3, created by the other writer, not loaded")
	}
	if e, ok := b.Get("p1", "t2"); ok {
		t.Errorf("p1/t2, gone from KV, still cached at revision %d", e.Revision)
	}
	for _, p := range []string{"p2", "p10"} {
		if _, ok := b.Get(p, "t1"); !ok {
			t.Errorf("%s/t1 dropped by the Reload of p1", p)
		}
	}
}

// The cache hands out a task of each caller's own: a change to what Get
// returned neither reaches the cache nor another caller. Share leaves a
// task equal to what it was and drops nothing the snapshot lacks.
func TestCacheTasksAreTheCallers(t *testing.T) {
	s := open(t, startJS(t)(), nil)
	if err := s.Put(ctxT(t), "p", "task-1", record("RUNNING")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, _ := s.Get("p", "task-1")
	got.Task.Status, got.Task.Source.PasswordSet = "FAILED", false
	again, _ := s.Get("p", "task-1")
	if again.Task.Status != "RUNNING" || !again.Task.Source.PasswordSet {
		t.Fatalf("cache changed through a task Get returned: %+v", *again.Task)
	}
	var into dcs.Task
	if e, ok := s.GetInto("p", "task-1", &into); !ok || e.Task != &into || !reflect.DeepEqual(into, *again.Task) {
		t.Fatalf("GetInto: %v %+v, want %+v in the task given", ok, into, *again.Task)
	}
	if e, ok := s.GetInto("p", "unknown", &into); ok || e.Task != nil {
		t.Fatalf("GetInto of a task never stored: %v %+v", ok, e)
	}
	// A row that takes the snapshot's strings stays what it was.
	row := dcs.Task{ID: "task-1", Name: "orders", Status: "SUCCESS", Description: "new"}
	want := row
	dcs.ShareStrings(&row, again.Task)
	if !reflect.DeepEqual(row, want) {
		t.Fatalf("ShareStrings changed the row: %+v, want %+v", row, want)
	}
	if unsafe.StringData(row.Name) != unsafe.StringData(again.Task.Name) {
		t.Fatal("ShareStrings left the row's own copy of an equal string")
	}
}
