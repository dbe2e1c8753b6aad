package delivery

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackact"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackapi"
)

// remindEvery is the tests' slack.remind_every: the loop looks every
// 250 ms; the engine's clock (testutil.Clock) says when one is due.
const remindEvery = time.Second

// remindOptions are bot-mode options reminding every remindEvery by clk.
func remindOptions(f *slackapi.Server, clk *testutil.Clock) Options {
	o := botOptions(f, oncall)
	o.RemindEvery, o.Now = remindEvery, clk.Now
	return o
}

// failTask fails task-1 at t0 (its incident opens), id naming the event.
func failTask(id string, t0 time.Time) notify.Envelope {
	return move(id, "task-1", "orders-cache", "INCRMIGEATING", "FAILED", t0, time.Minute)
}

// reminders are the reminders in the thread of card.
func reminders(f *slackapi.Server, card slackapi.Message) []string {
	var out []string
	for _, m := range f.Replies(oncall, card.TS) {
		if _, part := m.EventID(); part == partRemind {
			out = append(out, unescapeJSON(m.Blocks))
		}
	}
	return out
}

// reminderRecord is the lane's record of task-1's incident; nil when
// there is none.
func reminderRecord(t *testing.T, js jetstream.JetStream, r *running) *reminder {
	t.Helper()
	ctx := testutil.Context(t, waitFor)
	kv, err := js.KeyValue(ctx, defaults.Slack.MarksBucket)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := readRecord[reminder](ctx, kv, "reminder", r.lanes[0].reminderKey(notify.Data{ProjectID: project, TaskID: "task-1"}))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestReminderCadence: a failure is reminded in its card's thread each
// time remind_every has passed by the engine's clock, naming how long it
// has been open; each reminder sets the next one remind_every later.
func TestReminderCadence(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	t0 := observed()
	clk := testutil.NewClock(t0)
	publish(t, js, failTask("f1", t0))
	r := startNotifier(t, js, nil, remindOptions(f, clk))
	r.drained(t)
	card := cardOf(t, f, oncall, "f1")
	if rec := reminderRecord(t, js, r); rec == nil || !rec.NextAt.Equal(t0.Add(remindEvery)) || !rec.OpenedAt.Equal(t0) {
		t.Fatalf("incident record %+v, want opened at %s, next at %s", rec, t0, t0.Add(remindEvery))
	}
	for i, want := range []string{"Still failing after 1s: `FAILED`", "Still failing after 2s: `FAILED`"} {
		clk.Set(t0.Add(time.Duration(i+1) * remindEvery))
		testutil.Eventually(t, "reminder "+want, func() bool { return len(reminders(f, card)) == i+1 })
		if got := reminders(f, card)[i]; !strings.Contains(got, want) || !strings.Contains(got, "auth failed") {
			t.Errorf("reminder %d = %s, want %q and the reason", i+1, got, want)
		}
		if rec := reminderRecord(t, js, r); !rec.NextAt.Equal(clk.Now().Add(remindEvery)) {
			t.Errorf("after reminder %d the next is at %s, want %s", i+1, rec.NextAt, clk.Now().Add(remindEvery))
		}
	}
	r.stop(t)
	if n := len(reminders(f, card)); n != 2 {
		t.Errorf("%d reminders for two periods, want 2", n)
	}
	if top := f.TopLevel(oncall); len(top) != 1 {
		t.Errorf("%d top-level messages, want 1: reminders are replies", len(top))
	}
}

// TestReminderStopsOnRecovery: the task recovering closes its incident
// (the record is deleted) even when the route that reminds does not post
// the recovery; no reminder follows.
func TestReminderStopsOnRecovery(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	t0 := observed()
	clk := testutil.NewClock(t0)
	o := remindOptions(f, clk)
	o.Routes = []Route{{Name: "failures", Channel: oncall, Match: notify.Match{Outcomes: []dcs.Outcome{dcs.OutcomeFailed}}}}
	o.Channel = ""
	publish(t, js, failTask("f1", t0))
	r := startNotifier(t, js, nil, o)
	r.drained(t)
	if reminderRecord(t, js, r) == nil {
		t.Fatal("no incident record after the failure")
	}
	publish(t, js, move("f2", "task-1", "orders-cache", "FAILED", "INCRMIGEATING", t0.Add(time.Second/2), time.Second/2))
	testutil.Eventually(t, "the incident closed", func() bool { return reminderRecord(t, js, r) == nil })
	clk.Set(t0.Add(5 * remindEvery))
	r.stop(t)
	if st := r.Stats(); st.Reminded != 0 {
		t.Errorf("%d reminders after the recovery, want 0", st.Reminded)
	}
}

// TestReminderStopsOnAck: an acknowledged incident (the buttons' store)
// is not reminded, and its record is deleted.
func TestReminderStopsOnAck(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	t0 := observed()
	clk := testutil.NewClock(t0)
	l, actions := newListener(t, js)
	o := remindOptions(f, clk)
	o.Buttons, o.Acks = l, slackact.Store{KV: actions}
	publish(t, js, failTask("f1", t0))
	r := startNotifier(t, js, nil, o)
	r.drained(t)
	card := cardOf(t, f, oncall, "f1")
	clk.Set(t0.Add(remindEvery))
	testutil.Eventually(t, "the first reminder", func() bool { return len(reminders(f, card)) == 1 })

	ctx := testutil.Context(t, waitFor)
	incident := "FAILED@" + t0.UTC().Format(time.RFC3339)
	ack, _ := json.Marshal(slackact.Record{Incident: incident, By: "U0ALICE", At: clk.Now()})
	if _, err := actions.Put(ctx, slackact.Key("ack", project, "task-1"), ack); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(3 * remindEvery))
	testutil.Eventually(t, "the acknowledged incident's record deleted", func() bool { return reminderRecord(t, js, r) == nil })
	r.stop(t)
	if n := len(reminders(f, card)); n != 1 {
		t.Errorf("%d reminders, want 1: none after the acknowledgement", n)
	}
}

// taskSilence silences every event of one task until a time: a small
// real implementation of Silences (the silence store's Set is not on
// this branch yet).
type taskSilence struct {
	mu    sync.Mutex
	task  string
	until time.Time
}

func (s *taskSilence) Silenced(d notify.Data, now time.Time) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.TaskID == s.task && now.Before(s.until) {
		return "sil-1", true
	}
	return "", false
}

// TestReminderHeldBySilence: while the task is silenced its reminder is
// not posted but pushed back; once the silence has ended it is reminded
// again.
func TestReminderHeldBySilence(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	t0 := observed()
	clk := testutil.NewClock(t0)
	sil := &taskSilence{task: "task-1", until: t0.Add(10 * remindEvery)}
	o := remindOptions(f, clk)
	o.Silences = sil
	publish(t, js, failTask("f1", t0))
	r := startNotifier(t, js, nil, o)
	r.drained(t)
	card := cardOf(t, f, oncall, "f1")
	clk.Set(t0.Add(2 * remindEvery))
	testutil.Eventually(t, "the silenced reminder pushed back", func() bool {
		return reminderRecord(t, js, r).NextAt.Equal(t0.Add(3 * remindEvery))
	})
	if n := len(reminders(f, card)); n != 0 {
		t.Fatalf("%d reminders while silenced, want 0", n)
	}
	clk.Set(t0.Add(11 * remindEvery))
	testutil.Eventually(t, "a reminder once the silence ended", func() bool { return len(reminders(f, card)) == 1 })
}

// TestReminderWebhook: in webhook mode a reminder is a short message of
// its own naming the task, its status and how long it has been open.
func TestReminderWebhook(t *testing.T) {
	js := startJetStream(t)
	hook := newHook(t, nil)
	t0 := observed()
	clk := testutil.NewClock(t0)
	publish(t, js, failTask("f1", t0))
	r := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(hook.WebhookURL())}, Options{RemindEvery: remindEvery, Now: clk.Now})
	r.drained(t)
	clk.Set(t0.Add(4*time.Hour + 12*time.Minute))
	testutil.Eventually(t, "the reminder", func() bool { return len(hook.Accepted()) == 2 })
	got := texts(hook.Accepted()[1].Msg)
	for _, want := range []string{"*orders-cache*", "`task-1`", "still failing after 4h12m", "`FAILED`"} {
		if !strings.Contains(got, want) {
			t.Errorf("webhook reminder does not say %q:\n%s", want, got)
		}
	}
}

// TestReminderNoBurstAfterRestart: a new Notifier over the same KV, ten
// periods later, reminds once (the next is due remind_every from then),
// not once per missed period.
func TestReminderNoBurstAfterRestart(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	t0 := observed()
	clk := testutil.NewClock(t0)
	publish(t, js, failTask("f1", t0))
	r := startNotifier(t, js, nil, remindOptions(f, clk))
	r.drained(t)
	card := cardOf(t, f, oncall, "f1")
	clk.Set(t0.Add(remindEvery))
	testutil.Eventually(t, "the first reminder", func() bool { return len(reminders(f, card)) == 1 })
	r.stop(t)

	clk.Set(t0.Add(11 * remindEvery))
	again := startNotifier(t, js, nil, remindOptions(f, clk))
	testutil.Eventually(t, "one reminder after the restart", func() bool { return len(reminders(f, card)) == 2 })
	if rec := reminderRecord(t, js, again); !rec.NextAt.Equal(clk.Now().Add(remindEvery)) {
		t.Errorf("next reminder at %s, want %s (from now, not from the missed ones)", rec.NextAt, clk.Now().Add(remindEvery))
	}
	again.stop(t)
	if n := len(reminders(f, card)); n != 2 {
		t.Errorf("%d reminders, want 2: one before the restart, one after", n)
	}
}

// TestReminderTwoReplicas: two Notifiers on one NATS remind each due
// incident once: only the delivery lease holder reminds.
func TestReminderTwoReplicas(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	t0 := observed()
	clk := testutil.NewClock(t0)
	publish(t, js, failTask("f1", t0))
	a := startNotifier(t, js, nil, remindOptions(f, clk))
	b := startNotifier(t, js, nil, remindOptions(f, clk))
	a.drained(t)
	card := cardOf(t, f, oncall, "f1")
	for i := 1; i <= 3; i++ {
		clk.Set(t0.Add(time.Duration(i) * remindEvery))
		testutil.Eventually(t, "the reminder", func() bool { return len(reminders(f, card)) >= i })
	}
	a.stop(t)
	b.stop(t)
	if n := len(reminders(f, card)); n != 3 {
		t.Errorf("%d reminders by two replicas over three periods, want 3", n)
	}
	if st := a.Stats().Reminded + b.Stats().Reminded; st != 3 {
		t.Errorf("replicas counted %d reminders, want 3", st)
	}
}

// TestReminderClaimedOnce: two replicas that read the same record at the
// same revision post one reminder: the compare-and-swap of the next
// reminder lets one through, and the other posts nothing.
func TestReminderClaimedOnce(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	t0 := observed()
	clk := testutil.NewClock(t0)
	publish(t, js, failTask("f1", t0))
	r := startNotifier(t, js, nil, remindOptions(f, clk))
	r.drained(t)
	card := cardOf(t, f, oncall, "f1")
	r.stop(t) // its loop would remind too

	ctx := testutil.Context(t, waitFor)
	kv, err := js.KeyValue(ctx, defaults.Slack.MarksBucket)
	if err != nil {
		t.Fatal(err)
	}
	a, b := mustNew(t, js, nil, remindOptions(f, clk)).lanes[0], mustNew(t, js, nil, remindOptions(f, clk)).lanes[0]
	key := a.reminderKey(notify.Data{ProjectID: project, TaskID: "task-1"})
	rec, rev, err := readRecord[reminder](ctx, kv, "reminder", key)
	if err != nil || rec == nil {
		t.Fatalf("record: %v %v", rec, err)
	}
	clk.Set(t0.Add(remindEvery))
	for _, l := range []*lane{a, b} {
		copied := *rec
		if err := l.remindRecord(ctx, kv, key, &copied, rev, remindEvery/4); err != nil {
			t.Fatalf("remind: %v", err)
		}
	}
	if n := len(reminders(f, card)); n != 1 {
		t.Errorf("%d reminders from two replicas that read one revision, want 1", n)
	}
}

// TestReminderStopsOnRemoval: a failed task removed from the list closes
// its incident: the removal's outcome is still failed, yet it opens none.
func TestReminderStopsOnRemoval(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	t0 := observed()
	clk := testutil.NewClock(t0)
	failed := failTask("f1", t0)
	publish(t, js, failed)
	r := startNotifier(t, js, nil, remindOptions(f, clk))
	r.drained(t)
	if reminderRecord(t, js, r) == nil {
		t.Fatal("no incident record after the failure")
	}
	gone := envelope("f2", diff.Removed, failed.Data.Snapshot, nil, 0)
	if out, _ := gone.Data.Classified(); out != dcs.OutcomeFailed {
		t.Fatalf("the removal's outcome is %s; the test wants a failed task removed", out)
	}
	publish(t, js, gone)
	r.drained(t)
	if rec := reminderRecord(t, js, r); rec != nil {
		t.Errorf("incident still open after the task was removed: %+v", rec)
	}
}
