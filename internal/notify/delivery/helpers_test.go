package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/slackmsgtest"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

// secretPath is a planted webhook path: it must never show up in a log line
// or an error text.
const (
	secretToken = "XXXXSECRETXXXX"
	secretPath  = "/services/T000/B000/" + secretToken
	project     = slackmsgtest.Project
	prefix      = slackmsgtest.Prefix
	waitFor     = 10 * time.Second
	// fastRate paces the tests where pacing is not the point, so that
	// they stay fast.
	fastRate = 50
)

// newHook is the fake Slack webhook of the tests (package slackhook) on
// secretPath; respond, if set, answers post n (from 0) from its message
// (a zero Reply: OK). It runs under the hook's lock: it must not call the
// hook.
func newHook(t *testing.T, respond func(n int, msg slack.WebhookMessage) slackhook.Reply) *slackhook.Server {
	t.Helper()
	o := slackhook.Options{Path: secretPath}
	if respond != nil {
		o.Respond = func(n int, p slackhook.Post) slackhook.Reply { return respond(n, p.Msg) }
	}
	return slackhook.Start(t, o)
}

// startJetStream runs an embedded nats-server with JetStream and creates
// the stream the publisher would.
func startJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, js := testutil.Connect(t, testutil.RunJetStream(t, -1, t.TempDir()).ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: defaults.NATS.Stream, Subjects: []string{prefix + ".>"}, Duplicates: time.Hour,
	}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	return js
}

func publish(t *testing.T, js jetstream.JetStream, envs ...notify.Envelope) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for _, env := range envs {
		body, err := json.Marshal(env)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if _, err := js.Publish(ctx, env.NATSSubject, body, jetstream.WithMsgID(env.ID)); err != nil {
			t.Fatalf("publish %s: %v", env.ID, err)
		}
	}
}

// defaults is the configuration production runs with: tests use its names
// and limits, so that they run with what production uses.
var defaults = config.Default()

// mustNew is New with the zero fields of o taken from defaults.
func mustNew(t *testing.T, js jetstream.JetStream, s Sender, o Options) *Notifier {
	t.Helper()
	o = defaulted(o)
	if s == nil && len(o.Routes) == 0 && o.Channel == "" {
		s = &slackwire.ConsoleSender{W: io.Discard}
	}
	n, err := New(js, s, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
}

// defaulted is o with its zero fields taken from defaults.
func defaulted(o Options) Options {
	d := defaults.Slack
	o.Stream = cmp.Or(o.Stream, defaults.NATS.Stream)
	o.Consumer = cmp.Or(o.Consumer, d.Consumer)
	o.MarksBucket = cmp.Or(o.MarksBucket, d.MarksBucket)
	if len(o.Kinds) == 0 {
		for _, k := range d.Kinds {
			o.Kinds = append(o.Kinds, diff.Kind(k))
		}
	}
	o.MinRetryDelay = cmp.Or(o.MinRetryDelay, d.MinRetryDelay)
	o.MaxRetryDelay = cmp.Or(o.MaxRetryDelay, d.MaxRetryDelay)
	o.Rate = cmp.Or(o.Rate, d.Rate)
	o.GroupMin = cmp.Or(o.GroupMin, d.GroupMin)
	o.GroupMax = cmp.Or(o.GroupMax, d.GroupMax)
	o.SendTimeout = cmp.Or(o.SendTimeout, d.Timeout)
	o.DeadRetry = cmp.Or(o.DeadRetry, d.DeadRetry)
	o.CardsBucket = cmp.Or(o.CardsBucket, d.CardsBucket)
	return o
}

// running is a Notifier started in the background.
type running struct {
	*Notifier
	cancel context.CancelFunc
	done   chan error
}

// startNotifier runs a Notifier; edit, if any, changes it before Run.
func startNotifier(t *testing.T, js jetstream.JetStream, s Sender, o Options, edit ...func(*Notifier)) *running {
	t.Helper()
	if o.MinRetryDelay == 0 {
		o.MinRetryDelay = 200 * time.Millisecond
	}
	if o.Rate == 0 {
		o.Rate = fastRate // tests of pacing set their own
	}
	if o.Health == nil {
		o.Health = notify.NewPublisher(js, notify.PublisherOptions{Stream: defaults.NATS.Stream, Prefix: prefix, Region: "cn-north-4"})
		o.Project = project
	}
	n := mustNew(t, js, s, o)
	for _, e := range edit {
		e(n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Notifier: n, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- n.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and checks that it returns nil, promptly.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(waitFor):
		t.Fatalf("Run did not return within %s of cancel", waitFor)
	}
}

// drained waits until the consumer has nothing pending.
func (r *running) drained(t *testing.T) {
	t.Helper()
	r.drainedWithin(t, waitFor)
}

func (r *running) drainedWithin(t *testing.T, d time.Duration) {
	t.Helper()
	testutil.EventuallyWithin(t, d, "the consumer to drain", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		p, err := r.Pending(ctx)
		return err == nil && p == 0
	})
}

// Fixtures (see package slackmsgtest).
var (
	task          = slackmsgtest.Task
	observed      = slackmsgtest.Observed
	envelope      = slackmsgtest.Envelope
	statusChanged = slackmsgtest.StatusChanged
	burstTask     = slackmsgtest.BurstTask
	burstEvent    = slackmsgtest.BurstEvent
	newLogger     = slackmsgtest.NewLogger
	move          = slackmsgtest.Move
	checkLimits   = slackmsgtest.CheckLimits
	texts         = slackmsgtest.Texts
	headerText    = slackmsgtest.HeaderText
)
