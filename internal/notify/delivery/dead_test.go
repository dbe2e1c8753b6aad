package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

// deadRetry is the probe interval of these tests: short, so that several
// probes happen while the destination is dead.
const deadRetry = 50 * time.Millisecond

// switchable is a fake Slack that answers dead until revive.
type switchable struct {
	*slackhook.Server
	alive atomic.Bool
}

func newSwitchable(t *testing.T, dead slackhook.Reply) *switchable {
	t.Helper()
	s := &switchable{}
	s.Server = newHook(t, func(int, slack.WebhookMessage) slackhook.Reply {
		if s.alive.Load() {
			return slackhook.Reply{Status: http.StatusOK, Body: "ok"}
		}
		return dead
	})
	return s
}

// healthSubject is where the Slack delivery's health events of kind land.
func healthSubject(kind string) string {
	return prefix + "." + project + "._slack." + kind + ".NONE.unknown"
}

// healthCounts counts the health events in the stream, by subject.
func healthCounts(t *testing.T, js jetstream.JetStream) map[string]uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	st, err := js.Stream(ctx, defaults.NATS.Stream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(prefix+".*._slack.>"))
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	return info.State.Subjects
}

// lastHealth reads the last health event on subject and checks it against
// docs/event.schema.json.
func lastHealth(t *testing.T, js jetstream.JetStream, subject string) notify.Envelope {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	st, err := js.Stream(ctx, defaults.NATS.Stream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	m, err := st.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		t.Fatalf("last message on %s: %v", subject, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile("../../../docs/event.schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Errorf("%s: envelope does not match the schema: %v", subject, err)
	}
	var env notify.Envelope
	if err := json.Unmarshal(m.Data, &env); err != nil {
		t.Fatalf("unmarshal envelope: %v", err)
	}
	return env
}

// A revoked webhook (or an archived channel) loses nothing: every event
// stays unacked in the stream while the oldest probes, one error line and
// one watch_degraded event say so, and when the webhook works again the
// backlog goes out in stream order, each event once, with one info line
// and one watch_recovered event.
func TestNotifierHoldsEventsWhileDestinationIsDead(t *testing.T) {
	t.Parallel()
	for _, dead := range []slackhook.Reply{
		{Status: http.StatusNotFound, Body: "no_service"},
		{Status: http.StatusGone, Body: "channel_is_archived"},
		{Status: http.StatusForbidden, Body: "invalid_token"},
	} {
		t.Run(dead.Body, func(t *testing.T) {
			t.Parallel()
			js := startJetStream(t)
			f := newSwitchable(t, dead)
			logger, logs := newLogger()
			var want []string
			var envs []notify.Envelope
			for i := 1; i <= 6; i++ {
				id := fmt.Sprintf("ev-%d", i)
				want = append(want, id)
				envs = append(envs, statusChanged(id, "t-"+id, "MIGRATING", "SUCCESS"))
			}
			publish(t, js, envs[:3]...)
			// One message per event, so that each post names its event.
			n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())},
				Options{Logger: logger, NoGrouping: true, DeadRetry: deadRetry})

			testutil.EventuallyWithin(t, waitFor, "the watch_degraded event", func() bool {
				return healthCounts(t, js)[healthSubject("watch_degraded")] == 1
			})
			// Events that arrive while it is dead wait behind the others.
			publish(t, js, envs[3:]...)
			testutil.EventuallyWithin(t, waitFor, "several probes", func() bool { return len(f.Posts()) >= 4 })

			st := n.Stats()
			if st.Sent != 0 || st.Events != 0 || st.Failed != 0 || st.Dead != 1 {
				t.Fatalf("while dead: Stats = %+v, want nothing sent, acked or terminated, one episode", st)
			}
			// Nothing acked or terminated: the six events and the
			// degraded event are all pending.
			if p, err := n.Pending(context.Background()); err != nil || p != 7 {
				t.Fatalf("Pending while dead = %d, %v; want 7 (6 events + watch_degraded)", p, err)
			}
			for i, p := range f.Posts() {
				if id := eventIDs([]slackhook.Post{p})[0]; id != "ev-1" {
					t.Fatalf("probe %d posted %s, want the oldest event ev-1", i, id)
				}
			}
			if c := strings.Count(logs.String(), `"level":"error"`); c != 1 {
				t.Errorf("%d error lines for %d probes, want 1:\n%s", c, len(f.Posts()), logs)
			}
			if !strings.Contains(logs.String(), dead.Body) {
				t.Errorf("the error line should name %s:\n%s", dead.Body, logs)
			}

			probes := len(f.Posts())
			f.alive.Store(true)
			n.drained(t)

			if got := eventIDs(f.Accepted()); !equal(got, want) {
				t.Fatalf("Slack accepted %v, want %v: each once, in stream order", got, want)
			}
			counts := healthCounts(t, js)
			if counts[healthSubject("watch_degraded")] != 1 || counts[healthSubject("watch_recovered")] != 1 || len(counts) != 2 {
				t.Errorf("health events %v, want one watch_degraded and one watch_recovered", counts)
			}
			deg := lastHealth(t, js, healthSubject("watch_degraded"))
			rec := lastHealth(t, js, healthSubject("watch_recovered"))
			if deg.Data.Scope != diff.ScopeSlack || !strings.Contains(deg.Data.Reason, dead.Body) || deg.Data.ProjectID != project {
				t.Errorf("watch_degraded data = %+v, want scope slack, the reason %s, the project", deg.Data, dead.Body)
			}
			if rec.Data.Scope != diff.ScopeSlack || rec.ID == deg.ID {
				t.Errorf("watch_recovered data = %+v, id %s (degraded %s)", rec.Data, rec.ID, deg.ID)
			}
			st = n.Stats()
			// The two health events come through the consumer too: skipped,
			// never posted to the destination they are about.
			if st.Sent != 6 || st.Events != 6 || st.Failed != 0 || st.Dead != 1 || st.Skipped != 2 || st.Retried < uint64(probes) {
				t.Errorf("Stats = %+v, want 6 sent, 2 skipped, 1 episode, >= %d retried", st, probes)
			}
			if c := strings.Count(logs.String(), "destination works again"); c != 1 {
				t.Errorf("%d recovery lines, want 1:\n%s", c, logs)
			}
			if c := strings.Count(logs.String(), `"level":"error"`); c != 1 {
				t.Errorf("%d error lines in all, want 1:\n%s", c, logs)
			}
			assertNoSecret(t, "log", logs.String())
		})
	}
}

// A message Slack refuses (400 invalid_blocks) is terminated alone: the
// destination is not dead, the others go on and nothing is announced.
func TestNotifierRefusedMessageIsNotADeadDestination(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newHook(t, func(_ int, m slack.WebhookMessage) slackhook.Reply {
		if strings.Contains(m.Text, "bad-blocks") {
			return slackhook.Reply{Status: http.StatusBadRequest, Body: "invalid_blocks"}
		}
		return slackhook.Reply{Status: http.StatusOK, Body: "ok"}
	})
	publish(t, js,
		statusChanged("ev-1", "good-1", "MIGRATING", "SUCCESS"),
		statusChanged("ev-bad", "bad-blocks", "MIGRATING", "FAILED"),
		statusChanged("ev-2", "good-2", "MIGRATING", "SUCCESS"),
	)
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{NoGrouping: true, DeadRetry: time.Hour})
	n.drained(t)

	if got := eventIDs(f.Posts()); !equal(got, []string{"ev-1", "ev-bad", "ev-2"}) {
		t.Fatalf("Slack saw %v, want ev-1, ev-bad once, ev-2", got)
	}
	if want := (Stats{Sent: 2, Events: 2, Failed: 1}); n.Stats() != want {
		t.Errorf("Stats = %+v, want %+v", n.Stats(), want)
	}
	if c := healthCounts(t, js); len(c) != 0 {
		t.Errorf("health events %v for a refused message, want none", c)
	}
}

// A restart in the middle of an episode takes it up: the new run neither
// logs it as an error nor announces it again, and announces its end.
func TestNotifierResumesDeadEpisodeAfterRestart(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newSwitchable(t, slackhook.Reply{Status: http.StatusNotFound, Body: "no_service"})
	publish(t, js, statusChanged("ev-1", "t-1", "MIGRATING", "SUCCESS"), statusChanged("ev-2", "t-2", "MIGRATING", "SUCCESS"))
	o := Options{NoGrouping: true, DeadRetry: deadRetry}
	n1 := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, o)
	testutil.EventuallyWithin(t, waitFor, "the watch_degraded event", func() bool {
		return healthCounts(t, js)[healthSubject("watch_degraded")] == 1
	})
	n1.stop(t)

	logger, logs := newLogger()
	o.Logger = logger
	n2 := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, o)
	before := len(f.Posts())
	testutil.EventuallyWithin(t, waitFor, "the new run to probe twice", func() bool { return len(f.Posts()) >= before+2 })
	f.alive.Store(true)
	n2.drained(t)

	if got := eventIDs(f.Accepted()); !equal(got, []string{"ev-1", "ev-2"}) {
		t.Fatalf("Slack accepted %v, want ev-1, ev-2", got)
	}
	counts := healthCounts(t, js)
	if counts[healthSubject("watch_degraded")] != 1 || counts[healthSubject("watch_recovered")] != 1 {
		t.Errorf("health events %v, want one watch_degraded and one watch_recovered", counts)
	}
	if st := n2.Stats(); st.Dead != 0 {
		t.Errorf("second run Stats = %+v, want Dead 0: the episode was the first run's", st)
	}
	if strings.Contains(logs.String(), `"level":"error"`) || !strings.Contains(logs.String(), "destination works again") {
		t.Errorf("second run logs: want no error line and the recovery:\n%s", logs)
	}
}

// A post that Slack answers only after slack.timeout is a failed send:
// tried again, then acked, never lost. Both bounds count: the webhook
// client's (app.go gives it slack.timeout) and the notifier's own.
func TestNotifierRetriesAPostThatTimesOut(t *testing.T) {
	t.Parallel()
	const short = 200 * time.Millisecond
	for name, c := range map[string]struct {
		client *http.Client
		send   time.Duration
	}{
		"client timeout":   {client: &http.Client{Timeout: short}, send: time.Hour},
		"notifier timeout": {client: &http.Client{}, send: short},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			js := startJetStream(t)
			f := newHook(t, func(i int, _ slack.WebhookMessage) slackhook.Reply {
				return slackhook.Reply{Status: http.StatusOK, Body: "ok", Hang: i == 0}
			})
			publish(t, js, statusChanged("ev-1", "t-1", "MIGRATING", "SUCCESS"))
			n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL()), HTTPClient: c.client},
				Options{SendTimeout: c.send, MinRetryDelay: 10 * time.Millisecond})
			n.drained(t)
			if got := eventIDs(f.Posts()); !equal(got, []string{"ev-1", "ev-1"}) {
				t.Fatalf("Slack saw %v, want ev-1 timed out, then ev-1 again", got)
			}
			if st := n.Stats(); st.Sent != 1 || st.Retried != 1 || st.Failed != 0 {
				t.Errorf("Stats = %+v, want Sent 1, Retried 1, Failed 0", st)
			}
		})
	}
}

// An outage many times longer than AckWait neither gets the held events
// redelivered (to another replica, which would post them out of order)
// nor terminated: the keep-alive restarts their ack timer, and MaxDeliver
// is unlimited.
func TestNotifierHoldsEventsLongerThanAckWait(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	f := newSwitchable(t, slackhook.Reply{Status: http.StatusNotFound, Body: "no_service"})
	publish(t, js, statusChanged("ev-1", "t-1", "MIGRATING", "SUCCESS"), statusChanged("ev-2", "t-2", "MIGRATING", "SUCCESS"))
	const ackWait = 300 * time.Millisecond
	short := func(n *Notifier) { n.lanes[0].ackWait = ackWait }
	o := Options{NoGrouping: true, DeadRetry: deadRetry}
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, o, short)
	testutil.EventuallyWithin(t, waitFor, "the first probe", func() bool { return len(f.Posts()) >= 1 })
	// A second replica on the same consumer, with a Slack of its own: it
	// would get the held events if JetStream redelivered them.
	other := newSwitchable(t, slackhook.Reply{Status: http.StatusNotFound, Body: "no_service"})
	startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(other.WebhookURL())}, o, short)
	// At least 30 more probes DeadRetry apart: five times AckWait.
	testutil.EventuallyWithin(t, waitFor, "30 probes", func() bool { return len(f.Posts()) >= 31 })
	if got := other.Posts(); len(got) != 0 {
		t.Fatalf("the other replica posted %v: the held events were redelivered", eventIDs(got))
	}
	f.alive.Store(true)
	n.drained(t)
	if got := eventIDs(f.Accepted()); !equal(got, []string{"ev-1", "ev-2"}) {
		t.Fatalf("Slack accepted %v, want ev-1, ev-2", got)
	}
	if got := other.Posts(); len(got) != 0 {
		t.Errorf("the other replica posted %v", eventIDs(got))
	}
}
