package e2e

import (
	"context"
	"net/http/httptest"
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
	// stop stops app and its notifier (start sets it).
	stop func()

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
	// reported (the no-noise rule has its own tests in notify/delivery).
	cfg.Slack.DegradedFor = 0
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	h.cfg = cfg
	h.start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watcher logs:\n%s", h.logs.String())
		}
	})
	return h
}

// start starts the watcher on h.cfg, and its Slack notifier, until the
// test ends or restart stops it.
func (h *harness) start() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(h.ctx)
	log := zerolog.New(h.logs).Level(zerolog.DebugLevel)
	a, err := app.Start(ctx, h.cfg, app.Options{
		Logger: log,
		Now:    h.clk.Now,
		Published: func(e notify.Envelope) {
			h.mu.Lock()
			h.events = append(h.events, e)
			h.mu.Unlock()
		},
	})
	if err != nil {
		cancel()
		h.t.Fatalf("start: %v", err)
	}
	h.app = a
	done := make(chan struct{})
	if a.Slack != nil {
		go func() { defer close(done); _ = a.Slack.Run(ctx) }()
	} else {
		close(done)
	}
	var once sync.Once
	h.stop = func() { once.Do(func() { cancel(); <-done; a.Stop() }) }
	h.t.Cleanup(h.stop)
}

// restart stops the watcher (its notifier, then the app) and starts a new
// one on the same data dir, as a redeploy does.
func (h *harness) restart() {
	h.t.Helper()
	h.stop()
	h.start()
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
