package delivery

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

// named is an event about a task of its own (id from name), so that
// grouping and per-task order do not mix them.
func named(id, name, from, to string, kind diff.Kind) notify.Envelope {
	prev, curr := task(name, from), task(name, to)
	prev.ID, curr.ID = "task-"+name, "task-"+name
	if kind == diff.Discovered {
		prev = nil
	}
	return envelope(id, kind, prev, curr, 0)
}

// headers are the header texts of the posts a fake Slack accepted.
func headers(f *slackhook.Server) []string {
	var out []string
	for _, p := range f.Accepted() {
		out = append(out, headerText(p.Msg))
	}
	return out
}

func mentionSection(msg slack.WebhookMessage) string {
	if msg.Blocks == nil || len(msg.Blocks.BlockSet) < 2 {
		return ""
	}
	if s, ok := msg.Blocks.BlockSet[1].(*slack.SectionBlock); ok && s.Text != nil {
		return s.Text.Text
	}
	return ""
}

// TestRouting: each event goes to the routes it matches, first match wins
// unless the route continues, the default destination takes the rest, and
// each destination gets its mentions.
func TestRouting(t *testing.T) {
	js := startJetStream(t)
	def, db, crit, done := newHook(t, nil), newHook(t, nil), newHook(t, nil), newHook(t, nil)
	o := Options{NoGrouping: true, Routes: []Route{
		{Name: "db", Match: notify.Match{Project: project[:4] + "*", TaskName: "orders-*", Outcomes: []dcs.Outcome{dcs.OutcomeFailed}},
			Sender: slackwire.WebhookSender{URL: secret.Secret(db.WebhookURL())}, Mentions: []string{"S0123ABCD", "@here"}, Continue: true},
		{Name: "critical", Match: notify.Match{Severities: []notify.Severity{notify.SeverityCritical}},
			Sender: slackwire.WebhookSender{URL: secret.Secret(crit.WebhookURL())}, Mentions: []string{"U0AAAA"}},
		// Also matches the failures critical took first: first match wins.
		{Name: "done", Match: notify.Match{Kinds: []diff.Kind{diff.StatusChanged}, Statuses: []dcs.Status{dcs.StatusSuccess, dcs.StatusFailed}},
			Sender: slackwire.WebhookSender{URL: secret.Secret(done.WebhookURL())}},
	}}
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(def.WebhookURL())}, o)
	publish(t, js,
		named("ev-1", "orders-cache", "MIGRATING", "FAILED", diff.StatusChanged),
		named("ev-2", "billing", "MIGRATING", "MIGRATION_FAILED", diff.StatusChanged),
		named("ev-3", "billing-2", "MIGRATING", "SUCCESS", diff.StatusChanged),
		named("ev-4", "orders-other", "MIGRATING", "INCRMIGEATING", diff.StatusChanged),
		named("ev-5", "archive", "FAILED", "FAILED", diff.Removed),
		// db only, though it continues: no later route matches, and the
		// default takes only what no route took.
		named("ev-6", "orders-gone", "FAILED", "FAILED", diff.Removed),
	)
	n.drained(t)

	want := map[string]struct {
		f     *slackhook.Server
		heads []string
	}{
		"db":       {db, []string{":x: orders-cache: MIGRATING -> FAILED", ":wastebasket: orders-gone: removed (last seen FAILED)"}},
		"critical": {crit, []string{":x: orders-cache: MIGRATING -> FAILED", ":x: billing: MIGRATING -> MIGRATION_FAILED"}},
		"done":     {done, []string{":white_check_mark: billing-2: MIGRATING -> SUCCESS"}},
		"default":  {def, []string{":arrows_counterclockwise: orders-other: MIGRATING -> INCRMIGEATING", ":wastebasket: archive: removed (last seen FAILED)"}},
	}
	for name, w := range want {
		if got := headers(w.f); !slices.Equal(got, w.heads) {
			t.Errorf("%s received %q, want %q", name, got, w.heads)
		}
	}
	if p := db.Accepted(); len(p) > 0 {
		if !strings.HasPrefix(p[0].Msg.Text, "<!subteam^S0123ABCD> <!here> ") || mentionSection(p[0].Msg) != "<!subteam^S0123ABCD> <!here>" {
			t.Errorf("db's message: text %q, section %q; want the mentions in both", p[0].Msg.Text, mentionSection(p[0].Msg))
		}
	}
	for _, p := range crit.Accepted() {
		if !strings.HasPrefix(p.Msg.Text, "<@U0AAAA> ") {
			t.Errorf("critical's message text %q lacks its mention", p.Msg.Text)
		}
	}
	for _, p := range def.Accepted() {
		if strings.Contains(texts(p.Msg), "<@") || strings.Contains(texts(p.Msg), "<!") {
			t.Errorf("the default destination's message mentions someone: %q", texts(p.Msg))
		}
	}
}

// TestRoutingGroupsPerDestination: a burst is grouped per destination, and
// a grouped message lists the mentions once.
func TestRoutingGroupsPerDestination(t *testing.T) {
	js := startJetStream(t)
	def, db := newHook(t, nil), newHook(t, nil)
	o := Options{Routes: []Route{{Name: "db", Match: notify.Match{TaskName: "orders-*"}, Sender: slackwire.WebhookSender{URL: secret.Secret(db.WebhookURL())}, Mentions: []string{"@channel"}}}}
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(def.WebhookURL())}, o)
	var envs []notify.Envelope
	for i, name := range []string{"orders-a", "other-a", "orders-b", "other-b", "orders-c", "other-c"} {
		envs = append(envs, named("ev-"+string(rune('a'+i)), name, "MIGRATING", "FAILED", diff.StatusChanged))
	}
	publish(t, js, envs...)
	n.drained(t)
	for name, f := range map[string]*slackhook.Server{"db": db, "default": def} {
		events := 0
		for _, p := range f.Accepted() {
			events += strings.Count(texts(p.Msg), "• *")
		}
		if events != 3 && len(f.Accepted()) != 3 {
			t.Errorf("%s got %d posts listing %d grouped events, want its 3 events", name, len(f.Accepted()), events)
		}
	}
	for _, p := range db.Accepted() {
		if c := strings.Count(texts(p.Msg), "<!channel>"); c != 2 { // the section and the fallback text
			t.Errorf("db's message holds the mention %d times, want once in the section and once in the text:\n%s", c, texts(p.Msg))
		}
	}
}

// TestNoRouteNoDefault: with routes and no default destination, an event no
// route takes is not posted (and acked).
func TestNoRouteNoDefault(t *testing.T) {
	js := startJetStream(t)
	db := newHook(t, nil)
	n := startNotifier(t, js, nil, Options{Routes: []Route{{Name: "db", Match: notify.Match{TaskName: "orders-*"}, Sender: slackwire.WebhookSender{URL: secret.Secret(db.WebhookURL())}}}})
	publish(t, js, named("ev-1", "billing", "MIGRATING", "FAILED", diff.StatusChanged), named("ev-2", "orders-x", "MIGRATING", "FAILED", diff.StatusChanged))
	n.drained(t)
	if got := headers(db); len(got) != 1 || !strings.Contains(got[0], "orders-x") {
		t.Errorf("db received %q, want orders-x only", got)
	}
}

// TestQuietStart: a healthy task at first sight posts nothing, one already
// failed posts once; quiet_start off, discovered follows Kinds.
func TestQuietStart(t *testing.T) {
	for _, quiet := range []bool{true, false} {
		js := startJetStream(t)
		f := newHook(t, nil)
		n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{NoGrouping: true, QuietStart: quiet})
		publish(t, js,
			named("ev-1", "healthy", "", "INCRMIGEATING", diff.Discovered),
			named("ev-2", "broken", "", "FAILED", diff.Discovered),
			named("ev-3", "other", "MIGRATING", "SUCCESS", diff.StatusChanged),
		)
		n.drained(t)
		want := []string{":x: broken: discovered in FAILED", ":white_check_mark: other: MIGRATING -> SUCCESS"}
		if !quiet {
			want = want[1:] // discovered is not in the default kinds
		}
		if got := headers(f); !slices.Equal(got, want) {
			t.Errorf("quiet_start %v: posted %q, want %q", quiet, got, want)
		}
		n.stop(t)
	}
}

// blind is a watch_degraded or watch_recovered of one task's episode,
// observed at.
func blind(kind diff.Kind, episode uint64, at time.Time) notify.Envelope {
	last := task("orders-cache", "MIGRATING")
	ev := diff.Degraded(last.ID, "throttled", "APIGW.0308", last, episode)
	if kind == diff.WatchRecovered {
		ev = diff.Recovered(last.ID, "throttled", last, episode)
	}
	return notify.Build(prefix, ev, notify.Meta{Region: "cn-north-4", ProjectID: project, ObservedAt: at})
}

func kindsPosted(f *slackhook.Server) []string {
	var out []string
	for _, p := range f.Accepted() {
		h := headerText(p.Msg)
		switch {
		case strings.Contains(texts(p.Msg), "watch_degraded"):
			out = append(out, "degraded")
		case strings.Contains(texts(p.Msg), "watch_recovered"):
			out = append(out, "recovered")
		default:
			out = append(out, h)
		}
	}
	return out
}

// TestDegradedWithinDegradedForPostsNothing: a blindness that ends within
// degraded_for posts neither its watch_degraded nor its watch_recovered;
// the events behind them are not held up.
func TestDegradedWithinDegradedForPostsNothing(t *testing.T) {
	js := startJetStream(t)
	f := newHook(t, nil)
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{NoGrouping: true, DegradedFor: time.Hour})
	now := time.Now()
	publish(t, js, blind(diff.WatchDegraded, 1, now), blind(diff.WatchRecovered, 1, now.Add(30*time.Second)),
		named("ev-after", "other", "MIGRATING", "SUCCESS", diff.StatusChanged))
	testutil.EventuallyWithin(t, waitFor, "the event behind the episode", func() bool { return len(f.Accepted()) >= 1 })
	testutil.EventuallyWithin(t, waitFor, "the recovered event dropped", func() bool { return n.Stats().Quiet >= 1 })
	if got := kindsPosted(f); !slices.Equal(got, []string{":white_check_mark: other: MIGRATING -> SUCCESS"}) {
		t.Errorf("posted %q, want only the status change", got)
	}
}

// TestDegradedThatLastsPostsBoth: a blindness longer than degraded_for
// posts its watch_degraded once due (here already at arrival, and after a
// hold), then its watch_recovered.
func TestDegradedThatLastsPostsBoth(t *testing.T) {
	js := startJetStream(t)
	f := newHook(t, nil)
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{NoGrouping: true, DegradedFor: time.Second})
	start := time.Now()
	publish(t, js, blind(diff.WatchDegraded, 1, start))
	testutil.EventuallyWithin(t, waitFor, "the degraded event, once due", func() bool { return len(f.Accepted()) == 1 })
	publish(t, js, blind(diff.WatchRecovered, 1, time.Now()))
	n.drained(t)
	if got := kindsPosted(f); !slices.Equal(got, []string{"degraded", "recovered"}) {
		t.Errorf("posted %q, want degraded then recovered", got)
	}
	if at := f.Accepted()[0].At; at.Sub(start) < time.Second {
		t.Errorf("degraded posted %s after the blindness began, before degraded_for (1s)", at.Sub(start))
	}
	// A second episode of the same task is held again, not posted at once
	// on the first one's record.
	publish(t, js, blind(diff.WatchDegraded, 2, time.Now()), blind(diff.WatchRecovered, 2, time.Now()),
		named("ev-after", "other", "MIGRATING", "SUCCESS", diff.StatusChanged))
	testutil.EventuallyWithin(t, waitFor, "the event behind the second episode", func() bool { return len(f.Accepted()) == 3 })
	testutil.EventuallyWithin(t, waitFor, "the second episode dropped", func() bool { return n.Stats().Quiet >= 2 })
	if got := kindsPosted(f); len(got) != 3 || got[2] == "degraded" || got[2] == "recovered" {
		t.Errorf("posted %q, want the second, short episode silent", got)
	}
}

// TestDegradedRuleSurvivesRestart: a watch_degraded held when the notifier
// stops is posted by the next one once due (the hold is JetStream's), and
// its watch_recovered, arriving after the restart, follows it (the record
// is in the marks bucket).
func TestDegradedRuleSurvivesRestart(t *testing.T) {
	js := startJetStream(t)
	f := newHook(t, nil)
	o := Options{NoGrouping: true, DegradedFor: 2 * time.Second}
	a := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, o)
	start := time.Now()
	publish(t, js, blind(diff.WatchDegraded, 1, start))
	testutil.EventuallyWithin(t, waitFor, "the degraded event held", func() bool {
		p, err := a.Pending(context.Background())
		return err == nil && p == 1 && len(f.Posts()) == 0
	})
	a.stop(t)
	b := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, o)
	testutil.EventuallyWithin(t, waitFor, "the degraded event, once due", func() bool { return len(f.Accepted()) == 1 })
	publish(t, js, blind(diff.WatchRecovered, 1, time.Now()))
	b.drained(t)
	if got := kindsPosted(f); !slices.Equal(got, []string{"degraded", "recovered"}) {
		t.Errorf("posted %q, want degraded then recovered", got)
	}
}
