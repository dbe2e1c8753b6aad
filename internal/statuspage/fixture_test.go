package statuspage

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/state"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

const (
	fxProject = "0123456789abcdef0123456789abcdef"
	fxStream  = "DCS_EVENTS"
	fxPrefix  = "dcs.migration"
	fxBucket  = "dcs_snapshots"
)

// fixture is a real JetStream with the watcher's stream and bucket, the
// state store and publisher that write them, and a model and page reading
// them, served by an httptest server.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	js    jetstream.JetStream
	snaps *state.Snapshots
	pub   *notify.Publisher
	model *Model
	srv   *httptest.Server
	t0    time.Time
}

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	ns := testutil.RunJetStream(t, -1, t.TempDir())
	_, js := testutil.Connect(t, ns.ClientURL())
	ctx := testutil.Context(t, 60*time.Second)
	if _, err := notify.EnsureStream(ctx, js, notify.StreamOptions{Name: fxStream, Prefix: fxPrefix, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	snaps, err := state.Open(ctx, js, state.BucketOptions{Bucket: fxBucket})
	if err != nil {
		t.Fatal(err)
	}
	o.JS, o.Bucket, o.Stream, o.Prefix = js, fxBucket, fxStream, fxPrefix
	f := &fixture{t: t, ctx: ctx, js: js, snaps: snaps, t0: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		pub: notify.NewPublisher(js, notify.PublisherOptions{Stream: fxStream, Prefix: fxPrefix, Region: "ap-southeast-1"})}
	if o.Now == nil {
		o.Now = func() time.Time { return f.t0.Add(time.Hour) }
	}
	f.model = NewModel(o)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = f.model.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	page := NewPage()
	page.Use(f.model)
	f.srv = httptest.NewServer(page)
	t.Cleanup(f.srv.Close)
	return f
}

// fxTask is a task of the fixture's project, source and target with their
// passwords set (the dcs client drops the values; PasswordSet says so).
func fxTask(id, name, status string) *dcs.Task {
	return &dcs.Task{ID: id, Name: name, Status: status, MigrationType: "online_migration",
		Source: dcs.Instance{ID: "src-" + id, Name: name + "-src", Addrs: "10.0.0.1:6379", PasswordSet: true},
		Target: dcs.Instance{ID: "dst-" + id, Name: name + "-dst", IP: "10.0.1.2", Port: "6379", PasswordSet: true}}
}

// observe writes t's snapshot at t0+at and publishes the event of kind
// about it (prev: the snapshot before, nil for first sight).
func (f *fixture) observe(kind diff.Kind, prev, t *dcs.Task, at time.Duration, since time.Duration) {
	f.t.Helper()
	f.observeWith(kind, prev, t, at, since, nil)
}

// observeWith is observe with edit changing the record and the envelope
// before they are written (an attention episode, progress, a silence).
func (f *fixture) observeWith(kind diff.Kind, prev, t *dcs.Task, at, since time.Duration, edit func(*state.Record, *notify.Envelope)) {
	f.t.Helper()
	when := f.t0.Add(at)
	rec := state.Record{Task: t, StatusSince: f.t0.Add(since), WrittenAt: when}
	ev := diff.Event{ID: fmt.Sprintf("%s-%s-%d", t.ID, kind, at), Kind: kind, TaskID: t.ID, Prev: prev, Curr: t}
	env := notify.Build(fxPrefix, ev, notify.Meta{ProjectID: fxProject, ObservedAt: when})
	if edit != nil {
		edit(&rec, &env)
	}
	if err := f.snaps.Put(f.ctx, fxProject, t.ID, rec); err != nil {
		f.t.Fatalf("put %s: %v", t.ID, err)
	}
	if err := f.pub.Publish(f.ctx, env); err != nil {
		f.t.Fatalf("publish %s: %v", env.ID, err)
	}
}

// waitTask waits until the model's view of id satisfies cond.
func (f *fixture) waitTask(id, what string, cond func(TaskView) bool) TaskView {
	f.t.Helper()
	var v TaskView
	testutil.Eventually(f.t, what, func() bool {
		var ok bool
		v, ok = f.model.Task(fxProject, id)
		return ok && cond(v)
	})
	return v
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, what, cond)
}
