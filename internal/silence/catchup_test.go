package silence_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/silence"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// replica is one watcher's Set and Tracker over the shared bucket.
type replica struct {
	set *silence.Set
	tr  *silence.Tracker
}

func (s server) replica(windows ...silence.Window) replica {
	s.t.Helper()
	st := s.open(nil)
	set, err := st.Watch(s.t.Context(), windows, zerolog.Nop())
	if err != nil {
		s.t.Fatal(err)
	}
	tr, err := st.Tracker(s.t.Context(), set, zerolog.Nop())
	if err != nil {
		s.t.Fatal(err)
	}
	return replica{set: set, tr: tr}
}

// event is the envelope the poller publishes for d at at, marked by set.
func (r replica) event(d notify.Data, at time.Time) notify.Envelope {
	if id, ok := r.set.Silenced(d, at); ok {
		d.Silenced = id
	}
	return notify.Envelope{ID: d.TaskID + at.Format("150405"), Time: at, Data: d,
		NATSSubject: "dcs.migration." + d.ProjectID + "." + d.TaskID + ".status_changed.X." + string(d.Outcome)}
}

func (r replica) observe(t *testing.T, env notify.Envelope) bool {
	t.Helper()
	hide, err := r.tr.Observe(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	return hide
}

func recovered(name string) notify.Data {
	d := failed(name)
	d.CurrentStatus = &notify.StatusInfo{Raw: "MIGRATING", Normalized: "MIGRATING"}
	d.Outcome, d.Severity = dcs.OutcomeInProgress, "info"
	return d
}

// TestCatchupOnce: a silence hides two tasks' failures; one recovers
// while silenced. When the silence ends the other is offered once, to one
// of two replicas asking at the same time, and not again after Done.
func TestCatchupOnce(t *testing.T) {
	srv := newServer(t)
	ctx := t.Context()
	a, b := srv.replica(), srv.replica()
	now := time.Now()
	s, err := srv.open(nil).Add(ctx, silence.Silence{Matchers: []string{"name=orders-*", "outcome=failed"}, Start: now, End: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []replica{a, b} {
		testutil.Eventually(t, "both replicas to see the silence", func() bool {
			_, ok := r.set.Silenced(failed("orders-x"), now)
			return ok
		})
	}
	eu, us := a.event(failed("orders-eu"), now.Add(time.Minute)), a.event(failed("orders-us"), now.Add(time.Minute))
	if !a.observe(t, eu) || !a.observe(t, us) || eu.Data.Silenced != s.ID {
		t.Fatalf("failures not hidden (silenced %q)", eu.Data.Silenced)
	}
	// orders-us recovers: the event is not silenced (outcome in_progress),
	// is posted, and its task needs no catch-up.
	back := a.event(recovered("orders-us"), now.Add(2*time.Minute))
	if back.Data.Silenced != "" || a.observe(t, back) {
		t.Fatalf("the recovery was silenced (%q)", back.Data.Silenced)
	}
	if due, err := b.tr.Due(ctx, now.Add(30*time.Minute)); err != nil || len(due) != 0 {
		t.Fatalf("due while the silence holds: %d, %v", len(due), err)
	}

	end := s.End
	var mu sync.Mutex
	var got []silence.Catchup
	var wg sync.WaitGroup
	for _, r := range []replica{a, b} {
		testutil.Eventually(t, "the replica to index the records", func() bool { return r.tr.Pending() == 2 })
	}
	for _, r := range []replica{a, b} {
		wg.Go(func() {
			due, err := r.tr.Due(ctx, end)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			got = append(got, due...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(got) != 1 {
		t.Fatalf("offered %d catch-ups across two replicas, want 1 (orders-eu)", len(got))
	}
	c := got[0]
	if c.Envelope.Data.TaskName != "orders-eu" || c.Envelope.ID != eu.ID || c.Silence != s.ID || c.Envelope.NATSSubject != eu.NATSSubject {
		t.Errorf("catch-up %+v, want orders-eu's hidden event %s", c, eu.ID)
	}
	if err := a.tr.Done(ctx, got...); err != nil {
		t.Fatal(err)
	}
	for _, r := range []replica{a, b} {
		if due, err := r.tr.Due(ctx, end.Add(time.Hour)); err != nil || len(due) != 0 {
			t.Errorf("offered again after Done: %d, %v", len(due), err)
		}
	}
}

// TestCatchupRemovedAndReclaimed: removing a silence ends it at once; a
// claim whose replica never calls Done is offered again after ClaimFor.
func TestCatchupRemovedAndReclaimed(t *testing.T) {
	srv := newServer(t)
	ctx := t.Context()
	r := srv.replica()
	cli := srv.open(nil)
	now := time.Now()
	s, err := cli.Add(ctx, silence.Silence{Matchers: []string{"task=id-orders-eu"}, Start: now, End: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the set to see the silence", func() bool { _, ok := r.set.Silenced(failed("orders-eu"), now); return ok })
	if !r.observe(t, r.event(failed("orders-eu"), now)) {
		t.Fatal("not hidden")
	}
	if err := cli.Remove(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the removed silence's task to be due", func() bool {
		due, err := r.tr.Due(ctx, now.Add(time.Minute))
		return err == nil && len(due) == 1
	})
	if due, _ := r.tr.Due(ctx, now.Add(time.Minute+silence.ClaimFor-time.Second)); len(due) != 0 {
		t.Errorf("offered again while claimed: %d", len(due))
	}
	if due, _ := r.tr.Due(ctx, now.Add(time.Minute+silence.ClaimFor)); len(due) != 1 {
		t.Errorf("offered %d after the claim lapsed, want 1", len(due))
	}
}

// TestCatchupWindow: a window's activation is a silence of its own: its
// hidden failure is due when the activation ends.
func TestCatchupWindow(t *testing.T) {
	w, err := silence.NewWindow("nightly", "CRON_TZ=UTC 0 2 * * *", time.Hour, notify.Match{})
	if err != nil {
		t.Fatal(err)
	}
	r := newServer(t).replica(w)
	at := time.Date(2026, 3, 4, 2, 10, 0, 0, time.UTC)
	env := r.event(failed("orders-eu"), at)
	if env.Data.Silenced != "window:nightly" || !r.observe(t, env) {
		t.Fatalf("not hidden by the window (silenced %q)", env.Data.Silenced)
	}
	testutil.Eventually(t, "the record indexed", func() bool { return r.tr.Pending() == 1 })
	if due, _ := r.tr.Due(t.Context(), at.Add(49*time.Minute)); len(due) != 0 {
		t.Errorf("due %d during the window", len(due))
	}
	if due, _ := r.tr.Due(t.Context(), at.Add(50*time.Minute)); len(due) != 1 || due[0].Silence != "window:nightly" {
		t.Errorf("due %+v at the window's end, want the one failure", due)
	}
}

// TestCatchUpPosts: CatchUp posts the hidden failure, unmarked, once the
// silence is over; a failed post is offered again after ClaimFor, a
// successful one never again.
func TestCatchUpPosts(t *testing.T) {
	srv := newServer(t)
	ctx := t.Context()
	r := srv.replica()
	now := time.Now()
	if _, err := srv.open(nil).Add(ctx, silence.Silence{Matchers: []string{"outcome=failed"}, Start: now, End: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the set to see the silence", func() bool { _, ok := r.set.Silenced(failed("orders-eu"), now); return ok })
	r.observe(t, r.event(failed("orders-eu"), now))
	end := now.Add(time.Hour)

	var posted []notify.Envelope
	refuse := func(context.Context, silence.Catchup) error { return errors.New("slack is down") }
	accept := func(_ context.Context, c silence.Catchup) error { posted = append(posted, c.Envelope); return nil }
	if n, err := r.tr.CatchUp(ctx, end, refuse); n != 0 || err == nil {
		t.Fatalf("CatchUp with a failing post: %d posted, error %v", n, err)
	}
	if n, err := r.tr.CatchUp(ctx, end.Add(silence.ClaimFor), accept); n != 1 || err != nil {
		t.Fatalf("CatchUp after the claim lapsed: %d posted, error %v; want 1", n, err)
	}
	if posted[0].Data.TaskName != "orders-eu" || posted[0].Data.Silenced != "" {
		t.Errorf("posted %s marked %q, want orders-eu unmarked", posted[0].Data.TaskName, posted[0].Data.Silenced)
	}
	if n, _ := r.tr.CatchUp(ctx, end.Add(3*silence.ClaimFor), accept); n != 0 {
		t.Errorf("posted %d more after Done", n)
	}
}

// TestRunCatchUp: the loop posts a removed silence's failure by itself.
func TestRunCatchUp(t *testing.T) {
	srv := newServer(t)
	ctx := t.Context()
	r := srv.replica()
	cli := srv.open(nil)
	now := time.Now()
	s, err := cli.Add(ctx, silence.Silence{Matchers: []string{"outcome=failed"}, Start: now, End: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the set to see the silence", func() bool { _, ok := r.set.Silenced(failed("orders-eu"), now); return ok })
	r.observe(t, r.event(failed("orders-eu"), now))
	posted := make(chan notify.Envelope, 4)
	go r.tr.RunCatchUp(ctx, 10*time.Millisecond, time.Now, func(_ context.Context, c silence.Catchup) error {
		posted <- c.Envelope
		return nil
	})
	if err := cli.Remove(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case env := <-posted:
		if env.Data.TaskName != "orders-eu" {
			t.Errorf("posted %s, want orders-eu", env.Data.TaskName)
		}
	case <-time.After(testutil.EventuallyTimeout):
		t.Fatal("the catch-up was never posted")
	}
	testutil.Eventually(t, "the record dropped", func() bool { return r.tr.Pending() == 0 })
	if len(posted) != 0 {
		t.Errorf("posted %d more", len(posted))
	}
}
