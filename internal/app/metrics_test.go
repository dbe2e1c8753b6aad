package app_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/metrics"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestTaskGaugesFromThePollers: the watcher's stats calls (answered by the
// simulator from the scenario's progress) reach the task gauges of a real /metrics scrape, by project and task id; once the
// task has finished its series are gone.
func TestTaskGaugesFromThePollers(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clk := testutil.NewClock(t0)
	sc, err := sim.ParseScenario([]byte(fmt.Sprintf(`
project_id: %s
tasks:
  - id: %s
    name: orders
    steps:
      - {at: 0s, status: INCRMIGEATING, progress: {percent: 100, lag: 42}}
      - {at: 10s, status: SUCCESS}
`, projNorth, taskNorth)))
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(sim.New(sc, sim.Options{AK: ak, SK: sk, Clock: clk.Now, Start: t0}))
	t.Cleanup(api.Close)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DCS.AK, cfg.DCS.SK = ak, sk
	cfg.DCS.Endpoint, cfg.DCS.ProjectID = api.URL, projNorth
	cfg.Poll.Discover = true
	cfg.NATS.Listen = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := app.Start(testutil.Context(t, 10*time.Second), cfg, app.Options{Logger: zerolog.Nop(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	m := metrics.New(clk.Now)
	a.AttachMetrics(m)
	scrape := func() string {
		srv := httptest.NewServer(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
		defer srv.Close()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	if _, err := a.Cycle(testutil.Context(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	got := scrape()
	for _, want := range []string{
		fmt.Sprintf(`dcs_watcher_task_lag{project=%q,task_id=%q} 42`, projNorth, taskNorth),
		fmt.Sprintf(`dcs_watcher_task_progress_percent{project=%q,task_id=%q} 100`, projNorth, taskNorth),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	clk.Set(t0.Add(15 * time.Second))
	if _, err := a.Cycle(testutil.Context(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := scrape(); strings.Contains(got, `task_id="`+taskNorth+`"`) {
		t.Errorf("the finished task keeps its gauges")
	}
}
