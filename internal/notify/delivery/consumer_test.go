package delivery

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

// eventIDs are the event ids of posts, read from the message's context line.
func eventIDs(posts []slackhook.Post) []string {
	var ids []string
	for _, p := range posts {
		all := texts(p.Msg)
		i := strings.Index(all, "event `")
		if i < 0 {
			ids = append(ids, "?")
			continue
		}
		rest := all[i+len("event `"):]
		ids = append(ids, rest[:strings.IndexByte(rest, '`')])
	}
	return ids
}

func equal(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

func TestNotifierPostsInOrderAndSkipsDiscovered(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newHook(t, nil)
	publish(t, js,
		envelope("ev-discovered", diff.Discovered, nil, task("orders-cache-move", "RUNNING"), 0),
		statusChanged("ev-status", "orders-cache-move", "FULLMIGRATING", "INCRMIGEATING"),
		envelope("ev-removed", diff.Removed, task("orders-cache-move", "INCRMIGEATING"), nil, 0),
	)
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{FilterSubject: prefix + ".>"})
	n.drained(t)

	if got := eventIDs(f.Posts()); !equal(got, []string{"ev-status", "ev-removed"}) {
		t.Fatalf("Slack received %v, want [ev-status ev-removed]", got)
	}
	posts := f.Posts()
	if h := headerText(posts[0].Msg); !strings.Contains(h, "FULLMIGRATING -> INCRMIGEATING") {
		t.Errorf("first post header %q", h)
	}
	if want := (Stats{Sent: 2, Events: 2, Skipped: 1}); n.Stats() != want {
		t.Errorf("Stats = %+v, want %+v", n.Stats(), want)
	}
}

func TestNotifierRetriesServerErrorsWithBackoff(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newHook(t, func(i int, _ slack.WebhookMessage) slackhook.Reply {
		if i < 2 {
			return slackhook.Reply{Status: http.StatusInternalServerError, Body: "rollup_error"}
		}
		return slackhook.Reply{Status: http.StatusOK, Body: "ok"}
	})
	logger, logs := newLogger()
	publish(t, js, statusChanged("ev-1", "orders-cache-move", "MIGRATING", "SUCCESS"))
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{Logger: logger, MinRetryDelay: 200 * time.Millisecond})
	testutil.EventuallyWithin(t, waitFor, "one accepted post", func() bool { return len(f.Accepted()) == 1 })
	n.drained(t)

	posts := f.Posts()
	if len(posts) != 3 {
		t.Fatalf("Slack saw %d attempts, want 3 (500, 500, 200)", len(posts))
	}
	// The backoff doubles: at least 200ms, then at least 400ms.
	if gap := posts[1].At.Sub(posts[0].At); gap < 200*time.Millisecond {
		t.Errorf("first retry after %s, want >= 200ms", gap)
	}
	if gap := posts[2].At.Sub(posts[1].At); gap < 400*time.Millisecond {
		t.Errorf("second retry after %s, want >= 400ms", gap)
	}
	if want := (Stats{Sent: 1, Events: 1, Retried: 2}); n.Stats() != want {
		t.Errorf("Stats = %+v, want %+v", n.Stats(), want)
	}
	// Two identical failures make one warning, not two.
	if c := strings.Count(logs.String(), "will retry"); c != 1 {
		t.Errorf("%d retry warnings for two identical failures, want 1:\n%s", c, logs)
	}
	if !strings.Contains(logs.String(), `"event_id":"ev-1"`) || !strings.Contains(logs.String(), "HTTP 500 rollup_error") {
		t.Errorf("retry warning lacks the event id or the cause:\n%s", logs)
	}
}

func TestNotifierHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newHook(t, func(i int, _ slack.WebhookMessage) slackhook.Reply {
		if i == 0 {
			return slackhook.Reply{Status: http.StatusTooManyRequests, Body: "rate_limited", RetryAfter: "1"}
		}
		return slackhook.Reply{Status: http.StatusOK, Body: "ok"}
	})
	publish(t, js, statusChanged("ev-1", "orders-cache-move", "MIGRATING", "SUCCESS"))
	// A tiny backoff, so only Retry-After can explain a long wait.
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{MinRetryDelay: 10 * time.Millisecond})
	testutil.EventuallyWithin(t, waitFor, "one accepted post", func() bool { return len(f.Accepted()) == 1 })

	posts := f.Posts()
	if len(posts) != 2 || posts[0].Status != http.StatusTooManyRequests {
		t.Fatalf("Slack saw %d attempts, want a 429 then a 200", len(posts))
	}
	if gap := posts[1].At.Sub(posts[0].At); gap < 990*time.Millisecond {
		t.Errorf("retried %s after a 429 with Retry-After: 1, want >= 1s", gap)
	}
	if st := n.Stats(); st.Retried != 1 || st.Throttled != 1 {
		t.Errorf("Stats = %+v, want Retried 1 and Throttled 1", st)
	}
}

func TestNotifierTerminatesRefusedMessagesAndGoesOn(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newHook(t, func(_ int, m slack.WebhookMessage) slackhook.Reply {
		if strings.Contains(m.Text, "bad-blocks") {
			return slackhook.Reply{Status: http.StatusBadRequest, Body: "invalid_blocks"}
		}
		return slackhook.Reply{Status: http.StatusOK, Body: "ok"}
	})
	logger, logs := newLogger()
	publish(t, js,
		statusChanged("ev-bad", "bad-blocks", "MIGRATING", "FAILED"),
		statusChanged("ev-good", "good", "MIGRATING", "SUCCESS"),
	)
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{Logger: logger})
	n.drained(t)

	if got := eventIDs(f.Posts()); !equal(got, []string{"ev-bad", "ev-good"}) {
		t.Fatalf("Slack saw %v, want ev-bad once (refused, not retried) then ev-good", got)
	}
	if want := (Stats{Sent: 1, Events: 1, Failed: 1}); n.Stats() != want {
		t.Errorf("Stats = %+v, want %+v", n.Stats(), want)
	}
	if !strings.Contains(logs.String(), `"level":"error"`) || !strings.Contains(logs.String(), "invalid_blocks") {
		t.Errorf("no error logged for the refused message:\n%s", logs)
	}
}

func TestNotifierTerminatesMalformedEvents(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newHook(t, nil)
	logger, logs := newLogger()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := js.Publish(ctx, prefix+".p.t.status_changed.X", []byte("{not json")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if _, err := js.Publish(ctx, prefix+".p.t.status_changed.X", []byte(`{"specversion":"1.0"}`)); err != nil {
		t.Fatalf("publish: %v", err)
	}
	publish(t, js, statusChanged("ev-good", "good", "MIGRATING", "SUCCESS"))
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{Logger: logger})
	n.drained(t)

	if got := eventIDs(f.Posts()); !equal(got, []string{"ev-good"}) {
		t.Fatalf("Slack saw %v, want only ev-good", got)
	}
	if want := (Stats{Sent: 1, Events: 1, Failed: 2}); n.Stats() != want {
		t.Errorf("Stats = %+v, want %+v", n.Stats(), want)
	}
	for _, want := range []string{`"subject":"dcs.migration.p.t.status_changed.X"`, `"stream_seq":1`, `"stream_seq":2`, "envelope has no id"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

func TestNotifierRestartDeliversEachEventOnce(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	// Slow enough that the first Notifier is stopped in the middle of the
	// stream, with messages buffered and one in flight.
	f := newHook(t, func(int, slack.WebhookMessage) slackhook.Reply {
		time.Sleep(50 * time.Millisecond)
		return slackhook.Reply{Status: http.StatusOK, Body: "ok"}
	})
	var first []notify.Envelope
	for _, id := range []string{"ev-1", "ev-2", "ev-3", "ev-4", "ev-5", "ev-6"} {
		first = append(first, statusChanged(id, "t-"+id, "MIGRATING", "SUCCESS"))
	}
	publish(t, js, first...)
	// One message per event, so that each post names its event.
	o := Options{Consumer: "slack-restart", NoGrouping: true}
	n1 := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, o)
	testutil.EventuallyWithin(t, waitFor, "two posts", func() bool { return len(f.Posts()) >= 2 })
	n1.stop(t)

	// A crash after Slack accepted ev-marked but before the ack: the mark
	// is there, the message is (re)delivered.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	kv, err := js.KeyValue(ctx, defaults.Slack.MarksBucket)
	if err != nil {
		t.Fatalf("marks bucket: %v", err)
	}
	if _, err := kv.Put(ctx, markKey("ev-marked"), []byte(`{}`)); err != nil {
		t.Fatalf("put mark: %v", err)
	}
	publish(t, js, statusChanged("ev-marked", "t-marked", "MIGRATING", "SUCCESS"), statusChanged("ev-7", "t-7", "MIGRATING", "SUCCESS"))

	n2 := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, o)
	testutil.EventuallyWithin(t, waitFor, "all seven new events posted", func() bool { return len(f.Posts()) >= 7 })
	n2.drained(t)

	want := []string{"ev-1", "ev-2", "ev-3", "ev-4", "ev-5", "ev-6", "ev-7"}
	if got := eventIDs(f.Posts()); !equal(got, want) {
		t.Fatalf("Slack saw %v, want each of %v once, in order, and not ev-marked", got, want)
	}
	if n2.Stats().Skipped != 1 {
		t.Errorf("second Notifier Stats = %+v, want Skipped 1 (ev-marked)", n2.Stats())
	}
	if s1, s2 := n1.Stats(), n2.Stats(); s1.Sent+s2.Sent != 7 {
		t.Errorf("Sent %d + %d, want 7", s1.Sent, s2.Sent)
	}
	// Every delivered event left a mark.
	for _, id := range want {
		if _, err := kv.Get(ctx, markKey(id)); err != nil {
			t.Errorf("no delivery mark for %s: %v", id, err)
		}
	}
}

func TestNotifierLeaksNoWebhookURL(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	down := newHook(t, nil)
	url := secret.Secret(down.WebhookURL())
	down.Close() // connection refused
	logger, logs := newLogger()
	publish(t, js, statusChanged("ev-1", "orders-cache-move", "MIGRATING", "FAILED"))
	n := startNotifier(t, js, slackwire.WebhookSender{URL: url}, Options{Logger: logger, MinRetryDelay: 20 * time.Millisecond})
	testutil.EventuallyWithin(t, waitFor, "two failed attempts", func() bool { return n.Stats().Retried >= 2 })
	if p, err := n.Pending(context.Background()); err != nil || p != 1 {
		t.Errorf("Pending while Slack is down = %d, %v; want 1", p, err)
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("the warning should name the cause:\n%s", logs)
	}
	n.stop(t)

	// A hook that is gone: 404 no_service, a dead destination.
	gone := newHook(t, func(int, slack.WebhookMessage) slackhook.Reply {
		return slackhook.Reply{Status: http.StatusNotFound, Body: "no_service"}
	})
	m := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(gone.WebhookURL())}, Options{Logger: logger})
	testutil.EventuallyWithin(t, waitFor, "the dead destination", func() bool { return m.Stats().Dead == 1 })
	m.stop(t)

	assertNoSecret(t, "log", logs.String())
	if !strings.Contains(logs.String(), "no_service") {
		t.Errorf("the refusal should be logged:\n%s", logs)
	}
}

func TestPendingBeforeRun(t *testing.T) {
	t.Parallel()
	n := mustNew(t, startJetStream(t), &slackwire.ConsoleSender{W: io.Discard}, Options{})
	if _, err := n.Pending(context.Background()); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("Pending before Run: %v, want ErrConsumerNotFound", err)
	}
}

func TestBackoff(t *testing.T) {
	n := mustNew(t, nil, nil, Options{})
	tests := []struct {
		delivered uint64
		want      time.Duration
	}{
		{0, time.Second},
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{9, 256 * time.Second},
		{10, 5 * time.Minute},
		{1 << 40, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := n.lanes[0].backoff(tt.delivered); got != tt.want {
			t.Errorf("backoff(%d) = %s, want %s", tt.delivered, got, tt.want)
		}
	}
}

func TestMarkKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	kv, err := startJetStream(t).CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "MARKS"})
	if err != nil {
		t.Fatalf("bucket: %v", err)
	}
	ids := []string{"0123456789abcdef0123456789abcdef", "urn:ev/1.2", "urn:ev/1_2", ".lead", "a b", "名"}
	seen := map[string]string{}
	for _, id := range ids {
		k := markKey(id)
		if prev, dup := seen[k]; dup {
			t.Errorf("ids %q and %q share the key %q", prev, id, k)
		}
		seen[k] = id
		if _, err := kv.Put(ctx, k, []byte("x")); err != nil {
			t.Errorf("markKey(%q) = %q is not a valid KV key: %v", id, k, err)
		}
	}
	if k := markKey(ids[0]); k != ids[0] {
		t.Errorf("a hex id should be its own key, got %q", k)
	}
}

// flakyAck is a message whose first fails acks are not confirmed, as when
// NATS goes away between delivery and ack.
type flakyAck struct {
	jetstream.Msg
	fails, acks int
}

func (f *flakyAck) DoubleAck(context.Context) error {
	f.acks++
	if f.fails > 0 {
		f.fails--
		return nats.ErrNoResponders
	}
	return nil
}

// An ack NATS did not confirm is tried again before the next fetch, so the
// event does not stay pending until AckWait once NATS is back; one older
// than AckWait is given up, since JetStream has redelivered it.
func TestUnconfirmedAcksAreTriedAgain(t *testing.T) {
	n := mustNew(t, nil, nil, Options{}).lanes[0]
	s := &session{lane: n}
	lost := &flakyAck{fails: 1}
	s.settle(context.Background(), &item{msg: lost})
	if len(n.unsettled) != 1 {
		t.Fatalf("%d unsettled after a failed ack, want 1", len(n.unsettled))
	}
	stale := &flakyAck{fails: 1}
	n.unsettled = append(n.unsettled, unsettled{msg: stale, since: time.Now().Add(-2 * n.ackWait)})

	n.resettle(context.Background())
	if len(n.unsettled) != 0 || lost.acks != 2 || stale.acks != 0 {
		t.Errorf("after resettle: %d unsettled, acks %d and %d; want none, 2 and 0", len(n.unsettled), lost.acks, stale.acks)
	}
}
