package delivery

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/testutil/slackapi"
)

// TestBotBurstGrouped: 200 tasks without a card failing at once make at
// most ceil(200/50) top-level messages (grouped, as in webhook mode), each
// task listed exactly once; a later event of one of them opens its card in
// its grouped message's thread, and the next one redraws that card and
// replies in the same thread.
func TestBotBurstGrouped(t *testing.T) {
	const tasks = 200
	js := startJetStream(t)
	f := newFakeAPI(t)
	t0 := observed()
	name := func(i int) string { return fmt.Sprintf("cache-%03d", i) }
	id := func(i int) string { return fmt.Sprintf("task-%03d", i) }
	var envs []notify.Envelope
	for i := range tasks {
		envs = append(envs, move(fmt.Sprintf("f%03d", i), id(i), name(i), "FULLMIGRATING", "FAILED", t0, time.Minute))
	}
	publish(t, js, envs...)
	r := startNotifier(t, js, nil, botOptions(f, oncall))
	r.drainedWithin(t, 30*time.Second)

	top := 0
	for _, c := range f.Calls("chat.postMessage") {
		if c.Form["thread_ts"] == "" {
			top++
		}
	}
	maxTop := (tasks + slackmsg.MaxGroupEvents - 1) / slackmsg.MaxGroupEvents
	t.Logf("%d tasks failing at once: %d top-level posts, %d messages in all", tasks, top, len(f.Messages()))
	if top > maxTop || len(f.TopLevel(oncall)) != top {
		t.Errorf("top-level posts = %d (held %d), want at most %d", top, len(f.TopLevel(oncall)), maxTop)
	}
	listed := map[string]int{}
	groups := map[string]bool{}
	for _, m := range f.TopLevel(oncall) {
		if _, part := m.EventID(); part != partGroup {
			t.Errorf("top-level message of part %q, want %q", part, partGroup)
		}
		groups[m.TS] = true
		for i := range tasks {
			if strings.Contains(string(m.Blocks), "*"+name(i)+"*") {
				listed[name(i)]++
			}
		}
	}
	for i := range tasks {
		if listed[name(i)] != 1 {
			t.Errorf("%s listed %d times, want once", name(i), listed[name(i)])
		}
		if rec := cardsRecord(t, js, "", oncall, id(i)); !groups[rec.Thread] || rec.TS != "" || rec.Status != "FAILED" {
			t.Errorf("%s: record thread %q ts %q status %s; want a grouped message, no card yet, FAILED", id(i), rec.Thread, rec.TS, rec.Status)
		}
	}
	if st := r.Stats(); st.Events != tasks {
		t.Errorf("events delivered = %d, want %d", st.Events, tasks)
	}

	// Task 7 moves on: its card opens in its group's thread, then is
	// redrawn, with the next transition a reply in the same thread.
	thread := cardsRecord(t, js, "", oncall, id(7)).Thread
	publish(t, js, move("g1", id(7), name(7), "FAILED", "RUNNING", t0.Add(time.Hour), time.Hour))
	r.drained(t)
	publish(t, js, move("g2", id(7), name(7), "RUNNING", "FULLMIGRATING", t0.Add(2*time.Hour), time.Hour))
	r.drained(t)
	if n := len(f.TopLevel(oncall)); n != top {
		t.Errorf("top-level messages = %d after task 7 moved on, want still %d", n, top)
	}
	rec := cardsRecord(t, js, "", oncall, id(7))
	var card *slackapi.Message
	for _, m := range f.Replies(oncall, thread) {
		if ev, part := m.EventID(); ev == "g1" && part == partCard {
			card = &m
		}
	}
	if card == nil || rec.TS != card.TS || rec.Thread != thread {
		t.Fatalf("task 7's card: %v in the thread of %s; record ts %s thread %s", card, thread, rec.TS, rec.Thread)
	}
	if card.Updates != 1 || !strings.Contains(string(card.Blocks), "FULLMIGRATING") || !strings.Contains(string(card.Blocks), "FAILED") {
		t.Errorf("task 7's card: %d updates, want 1 showing its timeline:\n%s", card.Updates, card.Blocks)
	}
	if got := replyIDs(f, oncall, thread); strings.Join(got, ",") != "g1,g2" {
		t.Errorf("group thread replies = %v, want [g1 g2] (the card, then the transition)", got)
	}
}

// TestBotBurstGroupLost: the grouped message whose answer is lost after
// Slack stored it is found by the look-up, not posted twice, and its tasks
// are recorded under it.
func TestBotBurstGroupLost(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	f.Fault = func(method string, n int, _ map[string]string) slackapi.Fault {
		if method == "chat.postMessage" && n == 0 {
			return slackapi.Fault{Lost: true}
		}
		return slackapi.Fault{}
	}
	var envs []notify.Envelope
	for i := range 5 {
		envs = append(envs, move(fmt.Sprintf("f%d", i), fmt.Sprintf("task-%d", i), fmt.Sprintf("cache-%d", i), "FULLMIGRATING", "FAILED", observed(), time.Minute))
	}
	publish(t, js, envs...)
	o := botOptions(f, oncall)
	o.SendTimeout = 300 * time.Millisecond
	r := startNotifier(t, js, nil, o)
	r.drainedWithin(t, 30*time.Second)
	top := f.TopLevel(oncall)
	if len(top) != 1 || len(f.Calls("conversations.history")) == 0 {
		t.Fatalf("top-level messages = %d (history look-ups %d), want the 1 grouped message found again", len(top), len(f.Calls("conversations.history")))
	}
	for i := range 5 {
		if rec := cardsRecord(t, js, "", oncall, fmt.Sprintf("task-%d", i)); rec.Thread != top[0].TS {
			t.Errorf("task-%d: thread %q, want the grouped message %s", i, rec.Thread, top[0].TS)
		}
	}
}

// TestChannelPlan is a channel's plan on its own: the first events of
// tasks without a card are grouped (part group), a task's later event goes
// to its card, the events that are no task's are top-level messages. Each
// planned message is rendered once, when planned; a card post carries
// none: its card is drawn at send time from its record.
func TestChannelPlan(t *testing.T) {
	js := startJetStream(t)
	dest := mustNew(t, js, nil, botOptions(newFakeAPI(t), oncall)).lanes[0].dest
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := dest.prepare(ctx, js); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	ev := func(id, task string, kind diff.Kind, status string) *item {
		var env notify.Envelope
		if kind == diff.StatusChanged {
			env = envelope(id, kind, burstTask(0, "MIGRATING"), burstTask(0, status), 0)
		} else {
			env = notify.Build(prefix, diff.Event{ID: id, Kind: kind, Prev: burstTask(0, status)}, notify.Meta{ProjectID: project})
		}
		env.Data.TaskID = task
		return &item{env: env}
	}
	sc, wd := diff.StatusChanged, diff.WatchDegraded
	items := []*item{
		ev("x1", "x", sc, "FAILED"), ev("b1", "b", wd, "MIGRATING"), ev("y1", "y", sc, "FAILED"),
		ev("x2", "x", sc, "SUCCESS"), ev("z1", "z", sc, "FAILED"), ev("c1", "c", wd, "MIGRATING"), ev("d1", "d", wd, "MIGRATING"),
	}
	want := []struct {
		ids, part string
		msg       bool
	}{
		{"x1,y1,z1", partGroup, true},
		{"x2", partCard, false},
		{"b1,c1,d1", partTop, true},
	}
	posts := dest.plan(ctx, items)
	for i, p := range posts {
		if i >= len(want) {
			t.Errorf("post %d: %s, part %q: more posts than the %d wanted", i, ids(p.items), p.part, len(want))
			continue
		}
		w := want[i]
		if ids(p.items) != w.ids || p.part != w.part || (p.msg != nil) != w.msg {
			t.Errorf("post %d: %s, part %q, rendered %v; want %s, part %q, rendered %v", i, ids(p.items), p.part, p.msg != nil, w.ids, w.part, w.msg)
		}
	}
	if len(posts) < len(want) {
		t.Errorf("%d posts, want %d", len(posts), len(want))
	}
}
