package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// Planted secrets: every test that runs the pipeline scans its outputs for them.
const (
	plantedAK      = "PLANTEDAKZZ9F3Q7W2E1"
	plantedSK      = "planted-sk-Qx7dW2vB9nM4kL1p"
	webhookSecret  = "PLANTEDwebhookTOKENxYz123"
	srcPassword    = "PLANTED-src-Pa55-7x"
	dstPassword    = "PLANTED-dst-Pa55-9y"
	importPassword = "PLANTED-imp-Pa55-3z"
)

func plantedSecrets() []string {
	return []string{plantedAK, plantedSK, webhookSecret, srcPassword, dstPassword, importPassword}
}

// slackServer speaks Slack's incoming-webhook protocol and records what it
// accepted, and when it answered each post. failNext, when set, decides
// answers before a post is accepted.
type slackServer struct {
	*httptest.Server
	mu       sync.Mutex
	posts    []slackPost
	failNext []int // status codes to answer before accepting
}

// slackPost is one message the webhook accepted.
type slackPost struct {
	at   time.Time // when the answer was written
	ids  []string  // event ids in its context blocks
	text string
	raw  string // the body as posted
}

var eventIDRe = regexp.MustCompile("event `([^`]+)`")

func newSlackServer(t *testing.T) *slackServer {
	s := &slackServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, webhookSecret) {
			http.Error(w, "no_service", http.StatusNotFound)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.failNext) > 0 {
			code := s.failNext[0]
			s.failNext = s.failNext[1:]
			if code == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			http.Error(w, "rollup_error", code)
			return
		}
		var m struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		p := slackPost{text: m.Text, raw: string(body)}
		for _, sm := range eventIDRe.FindAllStringSubmatch(p.raw, -1) {
			p.ids = append(p.ids, sm[1])
		}
		_, _ = io.WriteString(w, "ok")
		p.at = time.Now()
		s.posts = append(s.posts, p)
	}))
	t.Cleanup(s.Close)
	return s
}

// all is every post accepted so far.
func (s *slackServer) all() []slackPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]slackPost(nil), s.posts...)
}

func (s *slackServer) texts() []string {
	var out []string
	for _, p := range s.all() {
		out = append(out, p.text)
	}
	return out
}

func (s *slackServer) bodies() []string {
	var out []string
	for _, p := range s.all() {
		out = append(out, p.raw)
	}
	return out
}

// harness runs the real watcher (embedded NATS, KV, publisher, poller,
// Slack notifier) against the simulator on an injected clock.
type harness struct {
	t     *testing.T
	ctx   context.Context
	t0    time.Time
	clk   *testutil.Clock
	sim   *sim.Server
	api   *httptest.Server
	slack *slackServer
	logs  *testutil.SyncBuffer
	cfg   config.Config
	app   *app.App

	// cycleTimeout bounds one cycle (publishing waits for JetStream's ack).
	cycleTimeout time.Duration

	mu     sync.Mutex
	events []notify.Envelope
	errs   []error
}

func newHarness(t *testing.T, scenario string, mutate func(*config.Config)) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sc, err := sim.ParseScenario([]byte(scenario))
	if err != nil {
		t.Fatalf("scenario: %v", err)
	}
	h := &harness{t: t, ctx: ctx, t0: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), logs: &testutil.SyncBuffer{}, cycleTimeout: 10 * time.Second}
	h.clk = testutil.NewClock(h.t0)
	h.sim = sim.New(sc, sim.Options{AK: plantedAK, SK: plantedSK, Clock: h.clk.Now, Start: h.t0})
	h.api = httptest.NewServer(h.sim)
	t.Cleanup(h.api.Close)
	h.slack = newSlackServer(t)

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DCS.Endpoint = h.api.URL
	cfg.DCS.ProjectID = sc.ProjectID
	cfg.DCS.AK, cfg.DCS.SK = plantedAK, plantedSK
	cfg.DCS.RateLimit = 1000
	cfg.DCS.Timeout = 2 * time.Second
	cfg.NATS.Listen = "127.0.0.1:0"
	cfg.Slack.Enabled = true
	cfg.Slack.WebhookURL = secret.Secret(h.slack.URL + "/services/T0001/B0001/" + webhookSecret)
	cfg.Slack.MaxRetryDelay = time.Second
	// The scenario's outage lasts seconds; these tests check that it is
	// reported (the no-noise rule has its own tests in notify/slack).
	cfg.Slack.DegradedFor = 0
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	h.cfg = cfg
	log := zerolog.New(h.logs).Level(zerolog.DebugLevel)
	a, err := app.Start(ctx, cfg, app.Options{
		Logger: log,
		Now:    h.clk.Now,
		Published: func(e notify.Envelope) {
			h.mu.Lock()
			h.events = append(h.events, e)
			h.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	h.app = a
	t.Cleanup(a.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watcher logs:\n%s", h.logs.String())
		}
	})
	if a.Slack != nil {
		done := make(chan struct{})
		go func() { defer close(done); _ = a.Slack.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return h
}

// cycleAt sets the clock to t0+d and runs one watch cycle.
func (h *harness) cycleAt(d time.Duration) (poller.Stats, error) {
	h.t.Helper()
	h.clk.Set(h.t0.Add(d))
	ctx, cancel := context.WithTimeout(h.ctx, h.cycleTimeout)
	defer cancel()
	st, err := h.app.Poller.Cycle(ctx)
	if err != nil {
		h.mu.Lock()
		h.errs = append(h.errs, err)
		h.mu.Unlock()
	}
	return st, err
}

func (h *harness) published() []notify.Envelope {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Envelope(nil), h.events...)
}

func (h *harness) cycleErrors() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.errs...)
}
