package delivery

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackapi"
)

const (
	botToken  = "xoxb-PLANTED-BOT-TOKEN"
	oncall    = "C0ONCALL"
	failuresC = "C0FAILURES"
)

// newFakeAPI is the fake Web API with the test channels.
func newFakeAPI(t *testing.T) *slackapi.Server {
	return slackapi.New(t, botToken, map[string]string{"#oncall": oncall, "#failures": failuresC})
}

// botOptions are Options of the bot mode posting to channel through f.
func botOptions(f *slackapi.Server, channel string) Options {
	return Options{
		Bot:         slackwire.NewBot(secret.Secret(botToken), f.URL(), &http.Client{Timeout: 5 * time.Second}),
		Channel:     channel,
		CardsBucket: defaults.Slack.CardsBucket,
	}
}

// cardOf is the top-level message of channel whose metadata names event
// id as a card.
func cardOf(t *testing.T, f *slackapi.Server, channel, id string) slackapi.Message {
	t.Helper()
	for _, m := range f.TopLevel(channel) {
		if ev, part := m.EventID(); ev == id && part == partCard {
			return m
		}
	}
	t.Fatalf("no card opened by %s in %s; top level: %d messages", id, channel, len(f.TopLevel(channel)))
	return slackapi.Message{}
}

func replyIDs(f *slackapi.Server, channel, ts string) []string {
	var ids []string
	for _, m := range f.Replies(channel, ts) {
		id, _ := m.EventID()
		ids = append(ids, id)
	}
	return ids
}

// TestBotCardAndThread: a task's first event opens its card, each later
// one redraws the same message (same ts, chat.update) and adds a reply in
// its thread; another task gets a card of its own.
func TestBotCardAndThread(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	t0 := observed()
	publish(t, js,
		move("c1", "task-1", "orders-cache", "MIGRATING", "FULLMIGRATING", t0, 2*time.Minute),
		move("c2", "task-1", "orders-cache", "FULLMIGRATING", "INCRMIGEATING", t0.Add(10*time.Minute), 10*time.Minute),
		move("c3", "task-1", "orders-cache", "INCRMIGEATING", "FAILED", t0.Add(15*time.Minute), 5*time.Minute),
		move("d1", "task-2", "users-cache", "MIGRATING", "SUCCESS", t0, time.Minute),
	)
	r := startNotifier(t, js, nil, botOptions(f, oncall))
	r.drained(t)

	if top := f.TopLevel(oncall); len(top) != 2 {
		t.Fatalf("top-level messages = %d, want 2 (one card per task)", len(top))
	}
	card := cardOf(t, f, oncall, "c1")
	if card.Updates != 2 {
		t.Errorf("card updated %d times in place, want 2", card.Updates)
	}
	if got := replyIDs(f, oncall, card.TS); strings.Join(got, ",") != "c2,c3" {
		t.Errorf("thread replies = %v, want [c2 c3]", got)
	}
	blocks := unescapeJSON(card.Blocks)
	for _, want := range []string{"FAILED", "FULLMIGRATING", "INCRMIGEATING", "for 10m", "for 5m", "since Mar 1 12:15", "active 17m", "redis-src", "192.168.0.10:6379", "Last error", "&lt;unreachable&gt; &amp; auth failed"} {
		if !strings.Contains(blocks, want) {
			t.Errorf("card does not show %q:\n%s", want, blocks)
		}
	}
	if card.Text == "" {
		t.Error("card has no fallback text")
	}
	if other := cardOf(t, f, oncall, "d1"); other.Updates != 0 || len(f.Replies(oncall, other.TS)) != 0 {
		t.Errorf("task-2's card: %d updates, %d replies; want 0 and 0", other.Updates, len(f.Replies(oncall, other.TS)))
	}
	if st := r.Stats(); st.Events != 4 {
		t.Errorf("events delivered = %d, want 4", st.Events)
	}
}

// TestBotThreadContinuesAfterRestart: a new Notifier on the same KV
// finds the card record and keeps updating the same card and thread.
func TestBotThreadContinuesAfterRestart(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	t0 := observed()
	publish(t, js,
		move("c1", "task-1", "orders-cache", "MIGRATING", "FULLMIGRATING", t0, time.Minute),
		move("c2", "task-1", "orders-cache", "FULLMIGRATING", "INCRMIGEATING", t0.Add(time.Minute), time.Minute))
	r := startNotifier(t, js, nil, botOptions(f, oncall))
	r.drained(t)
	r.stop(t)

	publish(t, js, move("c3", "task-1", "orders-cache", "INCRMIGEATING", "SUCCESS", t0.Add(2*time.Minute), time.Minute))
	r2 := startNotifier(t, js, nil, botOptions(f, oncall))
	r2.drained(t)
	if top := f.TopLevel(oncall); len(top) != 1 {
		t.Fatalf("top-level messages = %d after the restart, want the 1 card", len(top))
	}
	card := cardOf(t, f, oncall, "c1")
	if got := replyIDs(f, oncall, card.TS); strings.Join(got, ",") != "c2,c3" {
		t.Errorf("thread replies = %v, want [c2 c3]: the restart continues the thread", got)
	}
	if rec := cardsRecord(t, js, "", oncall, "task-1"); rec.TS != card.TS || rec.Status != "SUCCESS" {
		t.Errorf("card record: ts %s status %s; want %s SUCCESS", rec.TS, rec.Status, card.TS)
	}
	if !strings.Contains(string(card.Blocks), "SUCCESS") {
		t.Errorf("card not updated after the restart: %s", card.Blocks)
	}
}

// TestBotLookUpAfterTimeout: Slack takes a post but answers after the
// client gave up; the retry finds the post by its metadata (history for a
// card, the thread's replies for a reply) instead of posting it again.
func TestBotLookUpAfterTimeout(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	f.Fault = func(method string, n int, _ map[string]string) slackapi.Fault {
		if method == "chat.postMessage" && (n == 0 || n == 1) { // the card, then the first reply
			return slackapi.Fault{Lost: true}
		}
		return slackapi.Fault{}
	}
	t0 := observed()
	publish(t, js,
		move("c1", "task-1", "orders-cache", "MIGRATING", "FULLMIGRATING", t0, time.Minute),
		move("c2", "task-1", "orders-cache", "FULLMIGRATING", "FAILED", t0.Add(time.Minute), time.Minute))
	o := botOptions(f, oncall)
	o.SendTimeout = 300 * time.Millisecond
	r := startNotifier(t, js, nil, o)
	r.drainedWithin(t, 30*time.Second)

	if top := f.TopLevel(oncall); len(top) != 1 {
		t.Errorf("top-level messages = %d, want 1: the card whose answer was lost is found, not posted again", len(top))
	}
	card := cardOf(t, f, oncall, "c1")
	if got := replyIDs(f, oncall, card.TS); strings.Join(got, ",") != "c2" {
		t.Errorf("thread replies = %v, want [c2] once", got)
	}
	if len(f.Calls("conversations.history")) == 0 || len(f.Calls("conversations.replies")) == 0 {
		t.Errorf("look-ups: history %d, replies %d; want both used", len(f.Calls("conversations.history")), len(f.Calls("conversations.replies")))
	}
	for _, c := range f.Calls("conversations.history") {
		if c.Form["include_all_metadata"] != "1" || c.Form["channel"] != oncall {
			t.Errorf("history look-up %v: want include_all_metadata=1 on the channel id", c.Form)
		}
	}
}

// TestBotErrors: a dead channel holds the events and probes until it
// works; a message Slack refuses is terminated alone; a 429 waits its
// Retry-After.
func TestBotErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault slackapi.Fault
		check func(t *testing.T, st Stats)
	}{
		{"channel_not_found", slackapi.Fault{Error: "channel_not_found"}, func(t *testing.T, st Stats) {
			if st.Dead != 1 || st.Events != 2 {
				t.Errorf("dead %d, events %d: want 1 episode, then both delivered", st.Dead, st.Events)
			}
		}},
		{"not_in_channel", slackapi.Fault{Error: "not_in_channel"}, func(t *testing.T, st Stats) {
			if st.Dead != 1 || st.Events != 2 {
				t.Errorf("dead %d, events %d", st.Dead, st.Events)
			}
		}},
		{"invalid_blocks", slackapi.Fault{Error: "invalid_blocks"}, func(t *testing.T, st Stats) {
			if st.Failed != 1 || st.Events != 1 {
				t.Errorf("failed %d, events %d: want the refused one terminated, the other delivered", st.Failed, st.Events)
			}
		}},
		{"429", slackapi.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"}, func(t *testing.T, st Stats) {
			if st.Throttled != 1 || st.Events != 2 {
				t.Errorf("throttled %d, events %d", st.Throttled, st.Events)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := startJetStream(t)
			f := newFakeAPI(t)
			f.Fault = func(method string, n int, _ map[string]string) slackapi.Fault {
				if method == "chat.postMessage" && n == 0 {
					return tc.fault
				}
				return slackapi.Fault{}
			}
			publish(t, js,
				move("c1", "task-1", "orders-cache", "MIGRATING", "FULLMIGRATING", observed(), time.Minute),
				move("d1", "task-2", "users-cache", "MIGRATING", "SUCCESS", observed(), time.Minute))
			o := botOptions(f, oncall)
			o.DeadRetry = 200 * time.Millisecond
			r := startNotifier(t, js, nil, o)
			r.drainedWithin(t, 20*time.Second)
			tc.check(t, r.Stats())
		})
	}
}

// TestBotRoutingMentions: a route names a channel and mentions; what no
// route takes goes to slack.channel.
func TestBotRoutingMentions(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	o := botOptions(f, oncall)
	o.Routes = []Route{{Name: "failures", Channel: "#failures", Mentions: []string{"@here", "S0DBTEAM"},
		Match: notify.Match{Outcomes: []dcs.Outcome{dcs.OutcomeFailed}}}}
	publish(t, js,
		move("c1", "task-1", "orders-cache", "MIGRATING", "FAILED", observed(), time.Minute),
		move("d1", "task-2", "users-cache", "MIGRATING", "FULLMIGRATING", observed(), time.Minute))
	r := startNotifier(t, js, nil, o)
	r.drained(t)
	failed := cardOf(t, f, failuresC, "c1")
	if !strings.Contains(failed.Text, "<!here> <!subteam^S0DBTEAM>") || !strings.Contains(unescapeJSON(failed.Blocks), "<!here>") {
		t.Errorf("failure card does not mention: text %q", failed.Text)
	}
	other := cardOf(t, f, oncall, "d1")
	if strings.Contains(other.Text, "<!") {
		t.Errorf("default channel's card mentions: %q", other.Text)
	}
	if len(f.TopLevel(oncall)) != 1 || len(f.TopLevel(failuresC)) != 1 {
		t.Errorf("top level: oncall %d, failures %d; want 1 and 1", len(f.TopLevel(oncall)), len(f.TopLevel(failuresC)))
	}
}

// TestBotDegradedFor: in bot mode a blindness shorter than degraded_for
// posts nothing, and a task's event still opens its card.
func TestBotDegradedFor(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	now := time.Now()
	publish(t, js, blind(diff.WatchDegraded, 1, now), blind(diff.WatchRecovered, 1, now.Add(30*time.Second)),
		move("c1", "task-1", "orders-cache", "MIGRATING", "FULLMIGRATING", now, time.Minute))
	o := botOptions(f, oncall)
	o.DegradedFor = 2 * time.Minute
	r := startNotifier(t, js, nil, o)
	testutil.Eventually(t, "the task's card", func() bool { return len(f.TopLevel(oncall)) >= 1 })
	testutil.Eventually(t, "the recovered event dropped", func() bool { return r.Stats().Quiet >= 1 })
	if top := f.TopLevel(oncall); len(top) != 1 {
		t.Errorf("top-level messages = %d, want only the task's card (the blip posts nothing)", len(top))
	}
}

// TestBotTopLevelGrouped: API-wide events are top-level messages, and a
// burst of them is grouped as in webhook mode.
func TestBotTopLevelGrouped(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	var envs []notify.Envelope
	for i := range 5 {
		last := task(fmt.Sprintf("t%d", i), "MIGRATING")
		last.ID = fmt.Sprintf("task-%d", i)
		envs = append(envs, notify.Build(prefix, diff.Degraded(last.ID, "throttled", "APIGW.0308", last, 1),
			notify.Meta{Region: "cn-north-4", ProjectID: project, ObservedAt: observed()}))
	}
	publish(t, js, envs...)
	r := startNotifier(t, js, nil, botOptions(f, oncall), func(n *Notifier) {
		for _, l := range n.lanes {
			l.pace = newPacer(0.5) // the burst queues behind the first fetch
		}
	})
	r.drained(t)
	top := f.TopLevel(oncall)
	if len(top) < 1 || len(top) > 2 {
		t.Errorf("top-level messages = %d for 5 watch_degraded, want them grouped (1 or 2)", len(top))
	}
	for _, m := range top {
		if id, part := m.EventID(); id == "" || part != partTop {
			t.Errorf("top-level message metadata = %q/%q, want an event id, part top", id, part)
		}
	}
}

// TestBotSecretsStayInside: the token never shows in a log line or an
// error, whatever Slack answers.
func TestBotSecretsStayInside(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	f.Fault = func(method string, n int, _ map[string]string) slackapi.Fault {
		if n == 0 {
			return slackapi.Fault{Status: http.StatusBadGateway}
		}
		return slackapi.Fault{}
	}
	logger, buf := newLogger()
	o := botOptions(f, oncall)
	o.Logger = logger
	publish(t, js, move("c1", "task-1", "orders-cache", "MIGRATING", "FAILED", observed(), time.Minute))
	r := startNotifier(t, js, nil, o)
	r.drained(t)
	if strings.Contains(buf.String(), "PLANTED") {
		t.Errorf("log holds the token:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "HTTP 502") {
		t.Errorf("log does not say what failed:\n%s", buf.String())
	}
}

// cardsRecord reads the card record of a task, for tests.
func cardsRecord(t *testing.T, js jetstream.JetStream, lane, channel, taskID string) *cardRecord {
	t.Helper()
	ctx := testutil.Context(t, waitFor)
	kv, err := js.KeyValue(ctx, defaults.Slack.CardsBucket)
	if err != nil {
		t.Fatalf("cards bucket: %v", err)
	}
	rec, _, err := cards{kv: kv}.read(ctx, cardKey(lane, channel, notify.Data{ProjectID: project, TaskID: taskID}))
	if err != nil || rec == nil {
		t.Fatalf("card record of %s: %v %v", taskID, rec, err)
	}
	return rec
}

// unescapeJSON is raw JSON with the characters encoding/json escapes put
// back, for "does it say X" checks.
func unescapeJSON(b []byte) string {
	return strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(string(b))
}

// TestBotLookUpLongThread: in a thread of 205 replies, a reply whose
// answer is lost after Slack stored it is found by the look-up (which
// pages through the thread with the cursor) and posted exactly once.
func TestBotLookUpLongThread(t *testing.T) {
	const replies = 205
	js := startJetStream(t)
	f := newFakeAPI(t)
	var lose atomic.Bool
	f.Fault = func(method string, _ int, form map[string]string) slackapi.Fault {
		if method == "chat.postMessage" && form["thread_ts"] != "" && lose.CompareAndSwap(true, false) {
			return slackapi.Fault{Lost: true}
		}
		return slackapi.Fault{}
	}
	t0 := observed()
	st := []string{"FULLMIGRATING", "INCRMIGEATING"}
	flap := func(i int) notify.Envelope {
		return move(fmt.Sprintf("f%03d", i), "task-1", "orders-cache", st[i%2], st[(i+1)%2], t0.Add(time.Duration(i)*time.Minute), time.Minute)
	}
	var envs []notify.Envelope
	for i := range replies + 1 { // the first opens the card
		envs = append(envs, flap(i))
	}
	publish(t, js, envs...)
	logger, logs := newLogger()
	o := botOptions(f, oncall)
	o.SendTimeout = 2 * time.Second
	o.Logger = logger
	r := startNotifier(t, js, nil, o, func(n *Notifier) {
		for _, l := range n.lanes {
			l.pace = newPacer(1000)
		}
	})
	r.drainedWithin(t, 60*time.Second)
	card := cardOf(t, f, oncall, "f000")
	if n := len(f.Replies(oncall, card.TS)); n != replies {
		t.Fatalf("thread has %d replies before the lost answer, want %d", n, replies)
	}

	lose.Store(true)
	lost := flap(replies + 1)
	publish(t, js, lost)
	r.drainedWithin(t, 30*time.Second)
	if lose.Load() {
		t.Fatal("the lost answer was never served")
	}
	got := replyIDs(f, oncall, card.TS)
	count := 0
	for _, id := range got {
		if id == lost.ID {
			count++
		}
	}
	if count != 1 || len(got) != replies+1 {
		t.Errorf("reply %s posted %d times (thread %d replies), want once (%d replies)", lost.ID, count, len(got), replies+1)
	}
	if !strings.Contains(logs.String(), "an earlier attempt was posted after all") {
		t.Errorf("the look-up did not find the lost reply:\n%s", tail(logs.String(), 2000))
	}
	lostTS := f.Replies(oncall, card.TS)[replies].TS
	for _, c := range f.Calls("conversations.replies") {
		if c.Form["oldest"] == "" || slackwire.TSTime(c.Form["oldest"]).After(slackwire.TSTime(lostTS)) {
			t.Errorf("look-up from oldest %q: want a bound at or before the lost post's ts %s", c.Form["oldest"], lostTS)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
