package slack

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/slackmsgtest"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/testutil"
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

// post is one request the fake Slack received.
type post struct {
	At     time.Time
	Status int
	Msg    slack.WebhookMessage
}

// reply is what the fake Slack answers to one post.
type reply struct {
	Status     int
	Body       string
	RetryAfter string
	// Hang answers nothing until the client has given up (its timeout).
	Hang bool
}

// fakeSlack speaks the incoming-webhook protocol: JSON POST to the hook's
// path, 200 "ok", or an error status with a short error code as the body.
type fakeSlack struct {
	srv     *httptest.Server
	mu      sync.Mutex
	posts   []post
	respond func(n int, msg slack.WebhookMessage) reply // n counts posts from 0
}

func newFakeSlack(t *testing.T, respond func(n int, msg slack.WebhookMessage) reply) *fakeSlack {
	t.Helper()
	f := &fakeSlack{respond: respond}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != secretPath {
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var msg slack.WebhookMessage
	if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &msg) != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	n := len(f.posts)
	rep := reply{Status: http.StatusOK, Body: "ok"}
	if f.respond != nil {
		rep = f.respond(n, msg)
	}
	f.posts = append(f.posts, post{At: time.Now(), Status: rep.Status, Msg: msg})
	f.mu.Unlock()
	if rep.Hang {
		<-r.Context().Done()
	}
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(rep.Status)
	_, _ = io.WriteString(w, rep.Body)
}

func (f *fakeSlack) url() secret.Secret { return secret.Secret(f.srv.URL + secretPath) }

func (f *fakeSlack) all() []post {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]post(nil), f.posts...)
}

// accepted are the posts answered with 200.
func (f *fakeSlack) accepted() []post {
	var ok []post
	for _, p := range f.all() {
		if p.Status == http.StatusOK {
			ok = append(ok, p)
		}
	}
	return ok
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
