package app_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/metrics"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackapi"
	"github.com/dcs-watcher/watcher/internal/testutil/slacksocket"
)

const (
	btnBot = "xoxb-planted-app-test-bot"
	btnApp = "xapp-1-planted-app-test-app"
)

// buttonsConfig is bot mode against the fake Slack, watching one
// simulated project.
func buttonsConfig(t *testing.T, api *slackapi.Server) config.Config {
	t.Helper()
	parsed, err := sim.ParseScenario([]byte(scenario(projNorth, taskNorth, "[]")))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.New(parsed, sim.Options{AK: ak, SK: sk}))
	t.Cleanup(srv.Close)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DCS.AK, cfg.DCS.SK = ak, sk
	cfg.DCS.ProjectID, cfg.DCS.Endpoint = projNorth, srv.URL
	cfg.NATS.Listen = "127.0.0.1:0"
	cfg.Slack.Enabled = true
	cfg.Slack.BotToken, cfg.Slack.Channel, cfg.Slack.APIURL = btnBot, "C0ONCALL", api.URL()
	return cfg
}

// TestButtonsWiring: with slack.app_token the running app opens the
// Socket Mode connection (the metrics' socket gauge follows it) and acks
// a click on a card; without one there is no listener and nothing opens
// a connection. No token reaches the log.
func TestButtonsWiring(t *testing.T) {
	api := slackapi.New(t, btnBot, map[string]string{"#oncall": "C0ONCALL"})
	sock := slacksocket.New(t, api, btnApp)
	logs := &testutil.SyncBuffer{}

	plain := buttonsConfig(t, api)
	if err := plain.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := app.Start(testutil.Context(t, 10*time.Second), plain, app.Options{Logger: zerolog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	if a.Buttons != nil {
		t.Error("a listener without an app token")
	}
	a.Stop()

	cfg := buttonsConfig(t, api)
	cfg.Slack.AppToken = btnApp
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err = app.Start(testutil.Context(t, 10*time.Second), cfg, app.Options{Logger: zerolog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	m := metrics.New(nil)
	a.AttachMetrics(m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testutil.Eventually(t, "the socket up", func() bool { return a.Buttons != nil && a.Buttons.Connected() && sock.Connected() })
	if g := gaugeValue(t, m, "dcs_watcher_slack_socket_connected"); g != 1 {
		t.Errorf("socket gauge %v, want 1", g)
	}
	value := slackmsg.ButtonValue{Project: projNorth, TaskID: taskNorth, Incident: "FAILED@2026-03-01T09:00:00Z"}.Encode()
	id, err := sock.Click(slacksocket.Click{User: "U0ANA", ActionID: slackmsg.ActionAcknowledge, Value: value,
		BlockID: slackmsg.ActionsBlockID, Channel: "C0ONCALL", MessageTS: "1772355600.000100"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the click acked", func() bool { _, ok := sock.AckOf(id); return ok })
	// With the notifier as its Redrawer the card shows the click (no
	// card is at that ts here: nothing to redraw); no ephemeral says it.
	testutil.Eventually(t, "the acknowledgement done", func() bool { return a.Buttons.Stats().Done == 1 })
	if e := api.Ephemerals(); len(e) != 0 {
		t.Errorf("ephemerals %+v, want none: the card is redrawn instead", e)
	}
	for _, secret := range []string{btnBot, btnApp} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a token reached the log:\n%s", logs)
		}
	}
}

func gaugeValue(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}
