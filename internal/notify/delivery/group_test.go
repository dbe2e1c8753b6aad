package delivery

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

func burst(n int, from, to string) []notify.Envelope {
	envs := make([]notify.Envelope, n)
	for i := range envs {
		envs[i] = burstEvent(i, from, to)
	}
	return envs
}

// wantReported is what reported gives for envs, in order.
func wantReported(envs []notify.Envelope) []string {
	out := make([]string, len(envs))
	for i, env := range envs {
		out[i] = env.Data.Name() + " " + env.Data.What(nil)
	}
	return out
}

var (
	groupLineRE  = regexp.MustCompile("(?m)^• \\*([^*]+)\\*(?: `[^`]*`)?  (.+?)(?: — .*)?$")
	singleHeadRE = regexp.MustCompile(`^:[a-z_]+: (.+?): (.+)$`)
)

// reported reads back, in order, the events a message reports as
// "name what": one per line of a grouped message, or the header's.
func reported(msg slack.WebhookMessage) []string {
	h := headerText(msg)
	if strings.Contains(h, "migration tasks") {
		var out []string
		for _, m := range groupLineRE.FindAllStringSubmatch(texts(msg), -1) {
			out = append(out, m[1]+" "+m[2])
		}
		return out
	}
	if m := singleHeadRE.FindStringSubmatch(h); m != nil {
		return []string{m[1] + " " + m[2]}
	}
	return []string{"? " + h}
}

func reportedAll(posts []slackhook.Post) []string {
	var out []string
	for _, p := range posts {
		out = append(out, reported(p.Msg)...)
	}
	return out
}

// sizes is how many events each post reports.
func sizes(posts []slackhook.Post) []int {
	out := make([]int, len(posts))
	for i, p := range posts {
		out[i] = len(reported(p.Msg))
	}
	return out
}

func assertMarked(t *testing.T, n *running, envs []notify.Envelope) {
	t.Helper()
	ctx := testutil.Context(t, waitFor)
	kv, err := n.lanes[0].js.KeyValue(ctx, defaults.Slack.MarksBucket)
	if err != nil {
		t.Fatalf("marks bucket: %v", err)
	}
	for _, env := range envs {
		if _, err := kv.Get(ctx, markKey(env.ID)); err != nil {
			t.Errorf("no delivery mark for %s: %v", env.ID, err)
		}
	}
}

func TestNotifierGroupsABurst(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newHook(t, nil)
	envs := burst(200, "FULLMIGRATING", "FAILED")
	publish(t, js, envs...)
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{})
	n.drained(t)

	// Two batches of GroupMax (100) events, each one run of FAILED split
	// into two messages of maxGroupEvents (50) lines.
	posts := f.Posts()
	if got := sizes(posts); !equalInts(got, []int{50, 50, 50, 50}) {
		t.Fatalf("Slack got messages of %v events, want [50 50 50 50]", got)
	}
	for i, p := range posts {
		checkLimits(t, p.Msg)
		want := fmt.Sprintf(":x: 100 migration tasks -> FAILED (part %d of 2)", i%2+1)
		if h := headerText(p.Msg); h != want {
			t.Errorf("message %d header %q, want %q", i, h, want)
		}
	}
	if got, want := reportedAll(posts), wantReported(envs); !equal(got, want) {
		t.Errorf("Slack reported, in order:\n%v\nwant each event once:\n%v", got, want)
	}
	if want := (Stats{Sent: 4, Events: 200}); n.Stats() != want {
		t.Errorf("Stats = %+v, want %+v", n.Stats(), want)
	}
	assertMarked(t, n, envs)
}

// A sink that enforces Slack's rate (token bucket, 1 message per second)
// and answers 429 with Retry-After beyond it loses nothing and gets each
// event once. At the default rate the only 429 is the cold start's: the
// pacer starts a send no sooner than an interval after the previous
// answer, so the sink sees its posts more than an interval apart by
// causality, not by luck of timing.
func TestNotifierWithinSlacksRate(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	bucket := rate.NewLimiter(1, 1)
	var throttled atomic.Uint64
	f := newHook(t, func(i int, _ slack.WebhookMessage) slackhook.Reply {
		// The first post finds the bucket cold, so the 429 path is always taken.
		if i == 0 || !bucket.Allow() {
			throttled.Add(1)
			return slackhook.Reply{Status: http.StatusTooManyRequests, Body: "rate_limited", RetryAfter: "1"}
		}
		return slackhook.Reply{Status: http.StatusOK, Body: "ok"}
	})
	// 30 tasks, their new statuses interleaved as in a real burst: three
	// grouped messages of ten.
	statuses := []string{"FAILED", "SUCCESS", "TERMINATED"}
	var envs []notify.Envelope
	byStatus := map[string][]notify.Envelope{}
	for i := range 30 {
		env := burstEvent(i, "INCRMIGEATING", statuses[i%3])
		envs = append(envs, env)
		byStatus[statuses[i%3]] = append(byStatus[statuses[i%3]], env)
	}
	publish(t, js, envs...)
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{Rate: defaults.Slack.Rate})
	n.drainedWithin(t, testutil.EventuallyTimeout)

	want := wantReported(append(append(byStatus["FAILED"], byStatus["SUCCESS"]...), byStatus["TERMINATED"]...))
	if got := reportedAll(f.Accepted()); !equal(got, want) {
		t.Errorf("Slack accepted, in order:\n%v\nwant each event once:\n%v", got, want)
	}
	st := n.Stats()
	if st.Sent != 3 || st.Events != 30 || st.Throttled != 1 || throttled.Load() != 1 || st.Failed != 0 {
		t.Errorf("Stats = %+v and the sink sent %d 429s; want Sent 3, Events 30, one 429", st, throttled.Load())
	}
}

// The grouping rule on one burst: events with the same kind and new
// status share a message whether or not they are adjacent, groups below
// GroupMin are posted event by event, events that are not posted are left
// out, and each task's events keep their order.
func TestNotifierGroupingRule(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newHook(t, nil)
	a1 := burstEvent(1, "MIGRATING", "FULLMIGRATING")
	b := burstEvent(2, "FULLMIGRATING", "FAILED")
	e := burstEvent(5, "INCRMIGEATING", "SUCCESS")
	d := envelope("ev-004-discovered", diff.Discovered, nil, burstTask(4, "RUNNING"), 0)
	c := burstEvent(3, "FULLMIGRATING", "FAILED")
	f6 := burstEvent(6, "INCRMIGEATING", "SUCCESS")
	a2 := burstEvent(1, "FULLMIGRATING", "INCRMIGEATING")
	g := burstEvent(7, "INCRMIGEATING", "FAILED")
	h := burstEvent(8, "INCRMIGEATING", "SUCCESS")
	a3 := burstEvent(1, "INCRMIGEATING", "FAILED")
	i := envelope("ev-009-removed", diff.Removed, burstTask(9, "SUCCESS"), nil, 0)
	k := burstEvent(10, "MIGRATING", "FULLMIGRATING")
	publish(t, js, a1, b, e, d, c, f6, a2, g, h, a3, i, k)
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{})
	n.drained(t)

	// FULLMIGRATING: a1, k (two: one message each); FAILED: b, c, g;
	// SUCCESS: e, f6, h; A's INCRMIGEATING; A's FAILED, which cannot join
	// the FAILED group before it; the removal.
	posts := f.Posts()
	if got := sizes(posts); !equalInts(got, []int{1, 1, 3, 3, 1, 1, 1}) {
		t.Fatalf("Slack got messages of %v events, want [1 1 3 3 1 1 1]", got)
	}
	want := append(wantReported([]notify.Envelope{a1, k, b, c, g, e, f6, h, a2, a3}), "task-009 removed (last seen SUCCESS)")
	if got := reportedAll(posts); !equal(got, want) {
		t.Errorf("Slack reported, in order:\n%v\nwant:\n%v", got, want)
	}
	for i, want := range map[int]string{2: ":x: 3 migration tasks -> FAILED", 3: ":white_check_mark: 3 migration tasks -> SUCCESS"} {
		if h := headerText(posts[i].Msg); h != want {
			t.Errorf("message %d header %q, want %q", i, h, want)
		}
	}
	if want := (Stats{Sent: 7, Events: 11, Skipped: 1}); n.Stats() != want {
		t.Errorf("Stats = %+v, want %+v", n.Stats(), want)
	}
}

func TestNotifierGroupingOff(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newHook(t, nil)
	envs := burst(10, "FULLMIGRATING", "FAILED")
	publish(t, js, envs...)
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{NoGrouping: true})
	n.drained(t)

	posts := f.Posts()
	if got := sizes(posts); !equalInts(got, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}) {
		t.Fatalf("Slack got messages of %v events, want 10 of 1", got)
	}
	if got, want := reportedAll(posts), wantReported(envs); !equal(got, want) {
		t.Errorf("Slack reported:\n%v\nwant:\n%v", got, want)
	}
	if want := (Stats{Sent: 10, Events: 10}); n.Stats() != want {
		t.Errorf("Stats = %+v, want %+v", n.Stats(), want)
	}
}

// gatedSender holds its call number hold until release is closed, and
// closes inFlight when that call arrives.
type gatedSender struct {
	Sender
	calls             atomic.Int32
	hold              int32
	inFlight, release chan struct{}
}

func (g *gatedSender) Send(ctx context.Context, msg *slack.WebhookMessage) error {
	if g.calls.Add(1)-1 == g.hold {
		close(g.inFlight)
		<-g.release
	}
	return g.Sender.Send(ctx, msg)
}

// Stopped while a grouped message is in flight, a Notifier finishes that
// message (marks and acks its events) and hands the rest of its batch
// back; the next one posts the rest: each event once.
func TestNotifierGroupedRestartDeliversEachEventOnce(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newHook(t, nil)
	envs := burst(120, "FULLMIGRATING", "FAILED")
	publish(t, js, envs...)
	gate := &gatedSender{Sender: slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, inFlight: make(chan struct{}), release: make(chan struct{})}
	o := Options{Consumer: "slack-grouped-restart"}
	n1 := startNotifier(t, js, gate, o)
	select {
	case <-gate.inFlight:
	case <-time.After(waitFor):
		t.Fatal("the first message was not sent")
	}
	n1.cancel()
	close(gate.release)
	n1.stop(t)

	n2 := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, o)
	n2.drained(t)

	// n1: the first 50 of its batch of 100; n2: the other 50 and the 20
	// behind them, one run of 70.
	if got := sizes(f.Posts()); !equalInts(got, []int{50, 50, 20}) {
		t.Fatalf("Slack got messages of %v events, want [50 50 20]", got)
	}
	if got, want := reportedAll(f.Posts()), wantReported(envs); !equal(got, want) {
		t.Errorf("Slack reported:\n%v\nwant each event once:\n%v", got, want)
	}
	if s1, s2 := n1.Stats(), n2.Stats(); s1.Events != 50 || s2.Events != 70 || s2.Skipped != 0 {
		t.Errorf("Stats %+v and %+v, want 50 then 70 events, none skipped", s1, s2)
	}
	assertMarked(t, n2, envs)
}

// A grouped message Slack refuses for good is posted event by event, so
// one event Slack cannot take does not silence its run.
func TestNotifierRefusedGroupFallsBackToSingleMessages(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newHook(t, func(_ int, m slack.WebhookMessage) slackhook.Reply {
		if strings.Contains(m.Text, "task-002") {
			return slackhook.Reply{Status: http.StatusBadRequest, Body: "invalid_blocks"}
		}
		return slackhook.Reply{Status: http.StatusOK, Body: "ok"}
	})
	logger, logs := newLogger()
	envs := burst(5, "FULLMIGRATING", "FAILED")
	publish(t, js, envs...)
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{Logger: logger})
	n.drained(t)

	if got := sizes(f.Posts()); !equalInts(got, []int{5, 1, 1, 1, 1, 1}) {
		t.Fatalf("Slack got messages of %v events, want the group of 5 then 5 single ones", got)
	}
	want := wantReported([]notify.Envelope{envs[0], envs[1], envs[3], envs[4]})
	if got := reportedAll(f.Accepted()); !equal(got, want) {
		t.Errorf("Slack accepted %v, want %v", got, want)
	}
	if want := (Stats{Sent: 4, Events: 4, Failed: 1}); n.Stats() != want {
		t.Errorf("Stats = %+v, want %+v", n.Stats(), want)
	}
	if !strings.Contains(logs.String(), "grouped message refused") {
		t.Errorf("the fallback is not logged:\n%s", logs)
	}
}

// A batch that takes longer to pace out than AckWait is not redelivered:
// the keep-alive tells JetStream it is in progress.
func TestNotifierKeepsABatchAlivePastAckWait(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newHook(t, nil)
	envs := burst(12, "FULLMIGRATING", "FAILED")
	publish(t, js, envs...)
	// 11 intervals of 250ms: about three AckWaits.
	o := Options{Consumer: "slack-keepalive", NoGrouping: true, Rate: 4}
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, o, func(n *Notifier) { n.lanes[0].ackWait = time.Second })
	n.drained(t)

	if got, want := reportedAll(f.Posts()), wantReported(envs); !equal(got, want) {
		t.Errorf("Slack reported:\n%v\nwant each event once:\n%v", got, want)
	}
	ctx := testutil.Context(t, waitFor)
	cons, err := js.Consumer(ctx, defaults.NATS.Stream, o.Consumer)
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	if info.NumRedelivered != 0 || n.Stats().Skipped != 0 {
		t.Errorf("%d events redelivered, %d skipped; want none", info.NumRedelivered, n.Stats().Skipped)
	}
}

// The Notifier never sends faster than Options.Rate.
func TestNotifierPacesMessages(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newHook(t, nil)
	envs := burst(6, "FULLMIGRATING", "FAILED")
	publish(t, js, envs...)
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{NoGrouping: true, Rate: 5})
	n.drained(t)

	posts := f.Posts()
	if len(posts) != len(envs) {
		t.Fatalf("Slack got %d messages, want %d", len(posts), len(envs))
	}
	// Five intervals of 200ms at least; a little slack for the network,
	// which can bring one request in later than the next.
	if span := posts[len(posts)-1].At.Sub(posts[0].At); span < time.Second-50*time.Millisecond {
		t.Errorf("6 messages at 5/s took %s, want at least 1s", span)
	}
}

func equalInts(a, b []int) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
