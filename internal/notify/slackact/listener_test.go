package slackact

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestAckBeforeWork: a click is acked while its work has not even begun
// to finish (the log call hangs, as a slow API would), so within Slack's
// 3 s whatever the work costs; the time from push to ack is logged.
func TestAckBeforeWork(t *testing.T) {
	g := newRig(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	slow := func(ctx context.Context, _, _ string) ([]dcs.LogEntry, error) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return logLines(), nil
	}
	g.listener(t, func(o *Options) { o.LogTail = slow })
	id := g.click(t, -1, "U0ANA", slackmsg.ActionShowLog)
	took := g.waitAcked(t, id)
	t.Logf("click acked %v after it was pushed (Slack allows 3s)", took)
	select {
	case <-entered:
	case <-time.After(testutil.EventuallyTimeout):
		t.Fatal("the log was never read")
	}
	if n := len(g.api.Replies(channel, g.ts)); n != 0 {
		t.Fatalf("%d replies before the log call returned", n)
	}
	close(release)
	testutil.Eventually(t, "the log posted after the ack", func() bool { return len(g.api.Replies(channel, g.ts)) == 1 })
}

// TestAcknowledgeOnce: a double click on Acknowledge records one
// acknowledgement (who, when, for the incident the card shows), redraws
// the card once, and the card then says who acknowledged and offers the
// button no more; a reminder reading Acknowledged finds it.
func TestAcknowledgeOnce(t *testing.T) {
	g := newRig(t)
	console, err := slackmsg.ParseConsoleURL(slackmsg.DefaultConsoleURL)
	if err != nil {
		t.Fatal(err)
	}
	l := g.listener(t, func(o *Options) { o.Console = console })
	a, b := g.click(t, -1, "U0ANA", slackmsg.ActionAcknowledge), g.click(t, -1, "U0ANA", slackmsg.ActionAcknowledge)
	g.waitAcked(t, a)
	g.waitAcked(t, b)
	testutil.Eventually(t, "both clicks worked on", func() bool { s := l.Stats(); return s.Done+s.Repeats == 2 })
	if s := l.Stats(); s.Done != 1 || s.Repeats != 1 || g.draw.n.Load() != 1 {
		t.Errorf("stats %+v and %d redraws, want 1 done, 1 repeat, 1 redraw", s, g.draw.n.Load())
	}
	assertOneAck(t, g, "U0ANA")
	card := string(g.cardMessage(t).Blocks)
	if !strings.Contains(card, "Acknowledged by \\u003c@U0ANA\\u003e") && !strings.Contains(card, "Acknowledged by <@U0ANA>") {
		t.Errorf("the card does not say who acknowledged it:\n%s", card)
	}
	if _, ok := buttonValue(g.cardMessage(t).Blocks, slackmsg.ActionAcknowledge); ok {
		t.Error("the card still offers Acknowledge")
	}
	if _, ok := buttonValue(g.cardMessage(t).Blocks, slackmsg.ActionSilence); ok {
		t.Error("the card offers Silence without a silence store")
	}
	if !strings.Contains(card, "detail?id=task-1") {
		t.Errorf("the redrawn card has no console link:\n%s", card)
	}
}

// TestAcknowledgeOnceAcrossReplicas: two listeners on the same bucket,
// each with a connection of its own, both get a click on the same card
// (Slack's retry of an envelope on another connection, or two people at
// once): one acknowledgement, one redraw.
func TestAcknowledgeOnceAcrossReplicas(t *testing.T) {
	g := newRig(t)
	one, two := g.listener(t, nil), g.listener(t, nil)
	testutil.Eventually(t, "two connections", func() bool { return g.sock.Connections() == 2 })
	a, b := g.click(t, 0, "U0ANA", slackmsg.ActionAcknowledge), g.click(t, 1, "U0BEN", slackmsg.ActionAcknowledge)
	g.waitAcked(t, a)
	g.waitAcked(t, b)
	testutil.Eventually(t, "both clicks worked on", func() bool {
		return one.Stats().Done+one.Stats().Repeats+two.Stats().Done+two.Stats().Repeats == 2
	})
	if done := one.Stats().Done + two.Stats().Done; done != 1 || g.draw.n.Load() != 1 {
		t.Errorf("%d acknowledgements done and %d redraws across the replicas, want 1 and 1", done, g.draw.n.Load())
	}
	rec, err := Store{KV: g.kv}.Acknowledged(context.Background(), g.card.Project, g.card.TaskID, slackmsg.Incident(g.card))
	if err != nil || rec == nil || (rec.By != "U0ANA" && rec.By != "U0BEN") {
		t.Fatalf("acknowledgement %+v, %v", rec, err)
	}
	assertOneAck(t, g, rec.By)
}

// assertOneAck: the bucket holds one write of the acknowledgement, by
// user, for the card's incident.
func assertOneAck(t *testing.T, g *rig, user string) {
	t.Helper()
	key := Key(kindAck, g.card.Project, g.card.TaskID)
	hist, err := g.kv.History(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Operation() != jetstream.KeyValuePut {
		t.Fatalf("%d writes of %s, want 1", len(hist), key)
	}
	rec, err := Store{KV: g.kv}.Acknowledged(context.Background(), g.card.Project, g.card.TaskID, slackmsg.Incident(g.card))
	if err != nil || rec == nil || rec.By != user || rec.At.IsZero() {
		t.Errorf("acknowledgement %+v (%v), want one by %s", rec, err, user)
	}
}

// TestStrangerRefused: with slack.actors set, a click of someone outside
// the groups is acked, does nothing and is answered with an ephemeral
// "not allowed"; a member's click acts; the group is read once for both.
func TestStrangerRefused(t *testing.T) {
	g := newRig(t)
	g.api.SetUserGroup("S0ONCALL", "U0ANA")
	l := g.listener(t, func(o *Options) { o.Actors = []string{"S0ONCALL"} })
	g.waitAcked(t, g.click(t, -1, "U0EVE", slackmsg.ActionAcknowledge))
	// The refusal is counted before its ephemeral reaches Slack.
	testutil.Eventually(t, "the refusal told", func() bool { return l.Stats().Refused == 1 && len(g.api.Ephemerals()) > 0 })
	eph := g.api.Ephemerals()
	if len(eph) != 1 || eph[0].User != "U0EVE" || eph[0].Channel != channel || !strings.Contains(eph[0].Text, "not allowed") {
		t.Fatalf("ephemerals %+v, want one telling U0EVE no", eph)
	}
	if rec, _ := (Store{KV: g.kv}).Acknowledged(context.Background(), g.card.Project, g.card.TaskID, slackmsg.Incident(g.card)); rec != nil {
		t.Fatalf("a stranger's click acknowledged: %+v", rec)
	}
	g.waitAcked(t, g.click(t, -1, "U0ANA", slackmsg.ActionAcknowledge))
	testutil.Eventually(t, "the member's acknowledgement", func() bool { return l.Stats().Done == 1 })
	if n := len(g.api.Calls("usergroups.users.list")); n != 1 {
		t.Errorf("the group was read %d times for two clicks, want 1 (cached)", n)
	}
}

// TestSilenceOnce: a double click on Silence 2h asks the silence store
// once, for this task, for 2h, by the clicker; the card then shows the
// silence and its end.
func TestSilenceOnce(t *testing.T) {
	g := newRig(t)
	sil := &silences{}
	l := g.listener(t, func(o *Options) { o.Silencer = sil })
	g.waitAcked(t, g.click(t, -1, "U0ANA", slackmsg.ActionSilence))
	g.waitAcked(t, g.click(t, -1, "U0ANA", slackmsg.ActionSilence))
	testutil.Eventually(t, "both clicks worked on", func() bool { s := l.Stats(); return s.Done+s.Repeats == 2 })
	calls := sil.calls()
	if len(calls) != 1 {
		t.Fatalf("silence store asked %d times, want 1", len(calls))
	}
	c := calls[0]
	if c.m.Project != g.card.Project || c.m.TaskID != g.card.TaskID || c.d != 2*time.Hour || c.by != "U0ANA" {
		t.Errorf("silence asked %+v, want task %s for 2h by U0ANA", c, g.card.TaskID)
	}
	a, err := Store{KV: g.kv}.Attention(context.Background(), g.card.Project, g.card.TaskID, slackmsg.Incident(g.card), time.Now())
	if err != nil || a.SilenceID != "sil-a" || a.SilencedUntil.IsZero() {
		t.Errorf("attention %+v, %v: want silence sil-a", a, err)
	}
	if card := string(g.cardMessage(t).Blocks); !strings.Contains(card, "Silenced until") || !strings.Contains(card, "sil-a") {
		t.Errorf("the card does not show the silence:\n%s", card)
	}
}

// TestShowLogInThread: Show log posts the task's log tail once, in the
// card's thread, for a double click.
func TestShowLogInThread(t *testing.T) {
	g := newRig(t)
	l := g.listener(t, func(o *Options) {
		o.LogTail = func(context.Context, string, string) ([]dcs.LogEntry, error) { return logLines(), nil }
	})
	g.waitAcked(t, g.click(t, -1, "U0ANA", slackmsg.ActionShowLog))
	g.waitAcked(t, g.click(t, -1, "U0ANA", slackmsg.ActionShowLog))
	testutil.Eventually(t, "both clicks worked on", func() bool { s := l.Stats(); return s.Done+s.Repeats == 2 })
	replies := g.api.Replies(channel, g.ts)
	if len(replies) != 1 {
		t.Fatalf("%d replies in the card's thread, want 1", len(replies))
	}
	if body := string(replies[0].Blocks); !strings.Contains(body, "full sync aborted at 63%") || !strings.Contains(body, "DCS.M0042") {
		t.Errorf("the reply lacks the log lines:\n%s", body)
	}
	if tops := g.api.TopLevel(channel); len(tops) != 1 {
		t.Errorf("%d top-level messages, want the card alone", len(tops))
	}
}

// TestReconnect: a connection that drops, and one Slack asks to recycle,
// are opened again, and a click on the new connection is acked and acted
// on.
func TestReconnect(t *testing.T) {
	g := newRig(t)
	l := g.listener(t, nil)
	g.sock.Drop()
	testutil.Eventually(t, "a second connection", func() bool { return g.sock.Opens() == 2 && g.sock.Connected() })
	if err := g.sock.Disconnect("refresh_requested"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "a third connection", func() bool { return g.sock.Opens() == 3 && g.sock.Connections() == 1 })
	g.waitAcked(t, g.click(t, -1, "U0ANA", slackmsg.ActionAcknowledge))
	testutil.Eventually(t, "the acknowledgement", func() bool { return l.Stats().Done == 1 })
	if !l.Connected() || l.Stats().Connects != 3 {
		t.Errorf("connected %v after %d hellos, want up after 3", l.Connected(), l.Stats().Connects)
	}
}

// TestBadToken: an app token Slack refuses keeps the socket down (a
// readiness fact) and is retried, never logged.
func TestBadToken(t *testing.T) {
	g := newRig(t)
	l := New(Options{AppToken: "xapp-1-wrong-planted-secret", BotToken: botToken, APIURL: g.api.URL(), Bucket: g.kv,
		Logger: zerolog.New(g.logs), MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	testutil.Eventually(t, "a few refused attempts", func() bool { return len(g.api.Calls("apps.connections.open")) >= 3 })
	cancel()
	<-done
	if l.Connected() || g.sock.Opens() != 0 {
		t.Errorf("connected %v, %d connections with a refused token", l.Connected(), g.sock.Opens())
	}
	if strings.Contains(g.logs.String(), "wrong-planted-secret") {
		t.Errorf("the app token reached the log:\n%s", g.logs)
	}
	if !strings.Contains(g.logs.String(), "invalid_auth") {
		t.Errorf("the log does not say why the socket is down:\n%s", g.logs)
	}
}
