package notify_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

const stream = "DCS_MIGRATION"

func startJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, js := testutil.Connect(t, testutil.RunJetStream(t, -1, t.TempDir()).ClientURL())
	return js
}

func ctxT(t *testing.T) context.Context { return testutil.Context(t, 10*time.Second) }

func ensure(t *testing.T, js jetstream.JetStream, o notify.StreamOptions) jetstream.StreamConfig {
	t.Helper()
	if _, err := notify.EnsureStream(ctxT(t), js, o); err != nil {
		t.Fatalf("EnsureStream(%+v): %v", o, err)
	}
	// Ask the server, not the returned handle, what the stream is now.
	s, err := js.Stream(ctxT(t), o.Name)
	if err != nil {
		t.Fatalf("stream %s: %v", o.Name, err)
	}
	info, err := s.Info(ctxT(t))
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	return info.Config
}

func msgs(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(ctxT(t), stream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	info, err := s.Info(ctxT(t))
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	return info.State.Msgs
}

func envelope(status string) notify.Envelope {
	prev, curr := task("MIGRATING"), task(status)
	observed := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var ev diff.Event
	for _, e := range diff.Diff(prev, curr) {
		if e.Kind == diff.StatusChanged {
			ev = e
		}
	}
	return notify.Build(prefix, ev, notify.Meta{Region: region, ProjectID: project,
		ObservedAt: observed, PrevStatusSince: observed.Add(-time.Hour)})
}

func TestEnsureStream(t *testing.T) {
	js := startJS(t)
	steps := []struct {
		name string
		o    notify.StreamOptions
	}{
		{"creates", notify.StreamOptions{Name: stream, Prefix: prefix, Duplicates: 2 * time.Minute}},
		{"is idempotent", notify.StreamOptions{Name: stream, Prefix: prefix, Duplicates: 2 * time.Minute}},
		{"updates window and age", notify.StreamOptions{Name: stream, Prefix: prefix, Duplicates: 10 * time.Minute, MaxAge: 24 * time.Hour}},
		{"updates the prefix", notify.StreamOptions{Name: stream, Prefix: "ops.dcs", Duplicates: 10 * time.Minute, MaxAge: 24 * time.Hour}},
	}
	// Each step runs on the stream the previous one left, holding one event
	// that no step may lose.
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			cfg := ensure(t, js, st.o)
			if want := []string{st.o.Prefix + ".>"}; !slices.Equal(cfg.Subjects, want) {
				t.Errorf("subjects = %v, want %v", cfg.Subjects, want)
			}
			if cfg.Duplicates != st.o.Duplicates || cfg.MaxAge != st.o.MaxAge {
				t.Errorf("duplicates %v max age %v, want %v %v", cfg.Duplicates, cfg.MaxAge, st.o.Duplicates, st.o.MaxAge)
			}
			if cfg.Retention != jetstream.LimitsPolicy || cfg.Storage != jetstream.FileStorage || cfg.Replicas != 1 {
				t.Errorf("retention %v storage %v replicas %d, want limits, file, 1", cfg.Retention, cfg.Storage, cfg.Replicas)
			}
			if i == 0 {
				if err := notify.NewPublisher(js, notify.PublisherOptions{Stream: stream, Prefix: prefix}).Publish(ctxT(t), envelope("INCRMIGRATING")); err != nil {
					t.Fatalf("Publish: %v", err)
				}
			}
			if n := msgs(t, js); n != 1 {
				t.Errorf("stream holds %d messages, want the 1 published before", n)
			}
			names := js.StreamNames(ctxT(t))
			var all []string
			for n := range names.Name() {
				all = append(all, n)
			}
			if !slices.Equal(all, []string{stream}) {
				t.Errorf("streams = %v, want only %s", all, stream)
			}
		})
	}
}

func TestPublishStoresEnvelope(t *testing.T) {
	js := startJS(t)
	ensure(t, js, notify.StreamOptions{Name: stream, Prefix: prefix, Duplicates: time.Minute})
	env := envelope("INCRMIGRATING")
	if err := notify.NewPublisher(js, notify.PublisherOptions{Stream: stream, Prefix: prefix}).Publish(ctxT(t), env); err != nil {
		t.Fatalf("Publish: %v", err)
	}

	s, err := js.Stream(ctxT(t), stream)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetLastMsgForSubject(ctxT(t), prefix+".>")
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if msg.Subject != env.NATSSubject {
		t.Errorf("stored on %q, want %q", msg.Subject, env.NATSSubject)
	}
	if got := msg.Header.Get(jetstream.MsgIDHeader); got != env.ID {
		t.Errorf("Nats-Msg-Id = %q, want the event id %q", got, env.ID)
	}
	var got notify.Envelope
	if err := json.Unmarshal(msg.Data, &got); err != nil {
		t.Fatalf("decode stored body: %v", err)
	}
	got.NATSSubject = msg.Subject // not part of the body
	if !reflect.DeepEqual(got, env) {
		t.Errorf("stored envelope differs:\n got %+v\nwant %+v", got, env)
	}
	if err := validate(t, compileSchema(t), json.RawMessage(msg.Data)); err != nil {
		t.Errorf("stored body does not match the schema: %v", err)
	}
}

func TestPublishDeduplicatesByEventID(t *testing.T) {
	js := startJS(t)
	ensure(t, js, notify.StreamOptions{Name: stream, Prefix: prefix, Duplicates: time.Minute})
	p := notify.NewPublisher(js, notify.PublisherOptions{Stream: stream, Prefix: prefix})
	env := envelope("INCRMIGRATING")
	for i := range 2 {
		if err := p.Publish(ctxT(t), env); err != nil {
			t.Fatalf("Publish #%d: %v", i+1, err)
		}
	}
	if n := msgs(t, js); n != 1 {
		t.Fatalf("stream holds %d messages after publishing one id twice, want 1", n)
	}
	// A different change is a different id and is stored.
	if err := p.Publish(ctxT(t), envelope("FAILED")); err != nil {
		t.Fatalf("Publish other event: %v", err)
	}
	if n := msgs(t, js); n != 2 {
		t.Fatalf("stream holds %d messages, want 2", n)
	}
}

func TestPublishFailures(t *testing.T) {
	js := startJS(t)
	ensure(t, js, notify.StreamOptions{Name: stream, Prefix: prefix, Duplicates: time.Minute})
	other := envelope("FAILED")
	other.NATSSubject = "elsewhere.p.t.status_changed.FAILED"
	tests := []struct {
		name   string
		stream string
		env    notify.Envelope
	}{
		{"subject in a different stream than expected", "SOMETHING_ELSE", envelope("INCRMIGRATING")},
		{"subject no stream covers", stream, other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := notify.NewPublisher(js, notify.PublisherOptions{Stream: tt.stream, Prefix: prefix}).Publish(ctxT(t), tt.env)
			if err == nil {
				t.Fatal("Publish succeeded")
			}
			if !strings.Contains(err.Error(), tt.env.ID) || !strings.Contains(err.Error(), tt.env.NATSSubject) {
				t.Errorf("error %q names neither the event nor the subject", err)
			}
			if n := msgs(t, js); n != 0 {
				t.Errorf("stream holds %d messages after a failed publish, want 0", n)
			}
		})
	}
}

// TestOneSubscriptionForEveryFailure: the outcome token lets one filter
// take every failure of a project, however the API spells it, and nothing
// else.
func TestOneSubscriptionForEveryFailure(t *testing.T) {
	js := startJS(t)
	ensure(t, js, notify.StreamOptions{Name: stream, Prefix: prefix, Duplicates: time.Minute})
	pub := notify.NewPublisher(js, notify.PublisherOptions{Stream: stream, Prefix: prefix})
	for _, st := range []string{"FAILED", "MIGRATION_FAILED", "ERROR", "SUCCESS", "INCRMIGRATING", "TERMINATED"} {
		if err := pub.Publish(ctxT(t), envelope(st)); err != nil {
			t.Fatalf("Publish %s: %v", st, err)
		}
	}
	s, err := js.Stream(ctxT(t), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctxT(t), jetstream.WithSubjectFilter(prefix+"."+project+".*.*.*.failed"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for subj := range info.State.Subjects {
		got = append(got, subj)
	}
	slices.Sort(got)
	want := []string{
		prefix + "." + project + "." + taskID + ".status_changed.ERROR.failed",
		prefix + "." + project + "." + taskID + ".status_changed.FAILED.failed",
		prefix + "." + project + "." + taskID + ".status_changed.MIGRATION_FAILED.failed",
	}
	if !slices.Equal(got, want) {
		t.Errorf("the failure filter selects %v, want %v", got, want)
	}
}

// A publisher for another region names that region in its envelopes and
// leaves the one it came from as it was.
func TestPublisherForRegion(t *testing.T) {
	base := notify.NewPublisher(nil, notify.PublisherOptions{Stream: stream, Prefix: "dcs.migration", Region: "cn-north-4"})
	eu := base.ForRegion("eu-west-101")
	ev := diff.Degraded("", "api", "down", nil, 1).At("p2", 0)
	if got := eu.Envelope(ev, notify.Meta{ProjectID: "p2"}).Source; got != "dcs://eu-west-101/projects/p2" {
		t.Errorf("ForRegion source = %q", got)
	}
	if got := base.Envelope(ev, notify.Meta{ProjectID: "p2"}).Source; got != "dcs://cn-north-4/projects/p2" {
		t.Errorf("base source = %q after ForRegion", got)
	}
}
