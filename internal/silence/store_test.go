package silence_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/silence"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

const bucket = "test_silences"

// server is one embedded JetStream server; open gives each caller a
// connection of its own, as another process (the CLI, a replica) has.
type server struct {
	t   *testing.T
	url string
}

func newServer(t *testing.T) server {
	t.Helper()
	srv := testutil.RunJetStream(t, -1, t.TempDir())
	return server{t: t, url: srv.ClientURL()}
}

func (s server) open(now func() time.Time) *silence.Store {
	s.t.Helper()
	_, js := testutil.Connect(s.t, s.url)
	st, err := silence.Open(s.t.Context(), js, bucket, 1, now)
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

// failed is an event about a failed task named name.
func failed(name string) notify.Data {
	return notify.Data{Kind: diff.StatusChanged, ProjectID: "p1", TaskID: "id-" + name, TaskName: name,
		CurrentStatus: &notify.StatusInfo{Raw: "MIGRATION_FAILED", Normalized: "MIGRATION_FAILED"},
		Outcome:       dcs.OutcomeFailed, Severity: "critical"}
}

func ids(ss []silence.Silence) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

// TestStoreAddListRemove: add, ls and rm as watcher silence does them,
// each on a connection of its own.
func TestStoreAddListRemove(t *testing.T) {
	srv := newServer(t)
	ctx := t.Context()
	now := time.Now()
	st := srv.open(nil)
	a, err := st.Add(ctx, silence.Silence{Matchers: []string{"name=orders-*", "outcome=failed"},
		End: now.Add(2 * time.Hour), Comment: "cut-over", CreatedBy: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || a.Match.TaskName != "orders-*" || a.Start.IsZero() {
		t.Fatalf("added %+v: want an id, the match parsed and a start", a)
	}
	b, err := st.Add(ctx, silence.Silence{Matchers: []string{"task=t9"}, End: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	list, err := srv.open(nil).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(list), []string{a.ID, b.ID}) {
		t.Fatalf("listed %v, want %v then %v", ids(list), a.ID, b.ID)
	}
	got := list[0]
	if got.Comment != "cut-over" || got.CreatedBy != "ana" || !slices.Equal(got.Matchers, a.Matchers) ||
		!got.End.Equal(a.End.UTC().Truncate(0)) || !got.Match.Matches(failed("orders-eu")) {
		t.Errorf("listed %+v, want what was added (%+v)", got, a)
	}

	if err := srv.open(nil).Remove(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ = st.List(ctx); !slices.Equal(ids(list), []string{b.ID}) {
		t.Errorf("after rm %s: %v, want only %s", a.ID, ids(list), b.ID)
	}
	if err := st.Remove(ctx, a.ID); !errors.Is(err, silence.ErrNotFound) {
		t.Errorf("second rm: %v, want ErrNotFound", err)
	}
}

func TestStoreAddRefusesBadSilences(t *testing.T) {
	st := newServer(t).open(nil)
	now := time.Now()
	for name, s := range map[string]silence.Silence{
		"no match":   {End: now.Add(time.Hour)},
		"bad match":  {Matchers: []string{"colour=red"}, End: now.Add(time.Hour)},
		"ended":      {Matchers: []string{"task=t1"}, End: now.Add(-time.Minute)},
		"end before": {Matchers: []string{"task=t1"}, Start: now.Add(2 * time.Hour), End: now.Add(time.Hour)},
	} {
		if _, err := st.Add(t.Context(), s); err == nil {
			t.Errorf("%s: added", name)
		}
	}
	if list, err := st.List(t.Context()); err != nil || len(list) != 0 {
		t.Errorf("listed %v, %v; want nothing stored", ids(list), err)
	}
}

// TestStoreExpiry: a silence is gone after its end, from List and from
// the bucket (the key's TTL), without anyone removing it.
func TestStoreExpiry(t *testing.T) {
	srv := newServer(t)
	ctx := t.Context()
	st := srv.open(nil)
	s, err := st.Add(ctx, silence.Silence{Matchers: []string{"task=t1"}, End: time.Now().Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	_, js := testutil.Connect(t, srv.url)
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the expired silence's key to be removed by the server", func() bool {
		_, err := kv.Get(ctx, "s."+s.ID)
		return errors.Is(err, jetstream.ErrKeyNotFound)
	})
	if list, err := st.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("listed %v, %v after the end; want nothing", ids(list), err)
	}
}

// TestStoreListSkipsEnded: by the store's clock a silence past its end is
// left out and purged, even before the server's TTL removes it.
func TestStoreListSkipsEnded(t *testing.T) {
	srv := newServer(t)
	ctx := t.Context()
	clk := testutil.NewClock(time.Now())
	st := srv.open(clk.Now)
	s, err := st.Add(ctx, silence.Silence{Matchers: []string{"task=t1"}, End: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(s.End)
	if list, err := st.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("listed %v, %v at the end; want nothing", ids(list), err)
	}
	if err := st.Remove(ctx, s.ID); !errors.Is(err, silence.ErrNotFound) {
		t.Errorf("rm after List purged it: %v, want ErrNotFound", err)
	}
}

// TestSetFollowsBucket: a Set answers from memory and sees a silence
// added and removed on another connection, without a restart.
func TestSetFollowsBucket(t *testing.T) {
	srv := newServer(t)
	ctx := t.Context()
	set, err := srv.open(nil).Watch(ctx, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ev := failed("orders-eu")
	if id, ok := set.Silenced(ev, now); ok {
		t.Fatalf("silenced by %s before any silence", id)
	}
	cli := srv.open(nil)
	s, err := cli.Add(ctx, silence.Silence{Matchers: []string{"name=orders-*", "outcome=failed"}, Start: now, End: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the set to see the new silence", func() bool {
		id, ok := set.Silenced(ev, now)
		return ok && id == s.ID
	})
	if id, ok := set.Silenced(failed("billing"), now); ok {
		t.Errorf("another task's event silenced by %s", id)
	}
	if id, ok := set.Silenced(ev, s.End); ok {
		t.Errorf("silenced by %s at the silence's end", id)
	}
	if err := cli.Remove(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the set to drop the removed silence", func() bool {
		_, ok := set.Silenced(ev, now)
		return !ok
	})

	// A Set started later loads what is stored.
	s2, err := cli.Add(ctx, silence.Silence{Matchers: []string{"task=id-orders-eu"}, Start: now, End: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	late, err := srv.open(nil).Watch(ctx, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := late.Silenced(ev, now); !ok || id != s2.ID {
		t.Errorf("a new set answers %q %v, want %s", id, ok, s2.ID)
	}
}

// TestWindows: a window holds the events it matches from each activation
// for its duration, by a fixed clock.
func TestWindows(t *testing.T) {
	nightly, err := silence.NewWindow("nightly", "CRON_TZ=UTC 0 2 * * *", time.Hour, notify.Match{TaskName: "orders-*"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := silence.NewWindow("sunday", "CRON_TZ=UTC 0 0 * * 0", 6*time.Hour, notify.Match{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := newServer(t).open(nil).Watch(t.Context(), []silence.Window{nightly, all}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC) // a Wednesday
	tests := []struct {
		at   time.Time
		ev   notify.Data
		want string
	}{
		{day.Add(2*time.Hour - time.Second), failed("orders-eu"), ""},
		{day.Add(2 * time.Hour), failed("orders-eu"), "window:nightly"},
		{day.Add(2*time.Hour + 59*time.Minute), failed("orders-eu"), "window:nightly"},
		{day.Add(3 * time.Hour), failed("orders-eu"), ""},
		{day.Add(2*time.Hour + 30*time.Minute), failed("billing"), ""},
		{day.Add(24*time.Hour + 2*time.Hour + 10*time.Minute), failed("orders-eu"), "window:nightly"},
		{day.Add(4*24*time.Hour + 5*time.Hour), failed("billing"), "window:sunday"},
		{day.Add(4*24*time.Hour + 6*time.Hour), failed("billing"), ""},
	}
	for _, tt := range tests {
		id, _ := set.Silenced(tt.ev, tt.at)
		if id != tt.want {
			t.Errorf("%s at %s: silenced by %q, want %q", tt.ev.TaskName, tt.at.Format(time.RFC3339), id, tt.want)
		}
	}
	if _, err := silence.NewWindow("bad", "at two", time.Hour, notify.Match{}); err == nil {
		t.Error("a bad schedule accepted")
	}
	if _, err := silence.NewWindow("bad", "@daily", 0, notify.Match{}); err == nil {
		t.Error("a zero duration accepted")
	}
}
