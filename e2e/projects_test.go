package e2e

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/e2e/fixture"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// euScenario is a second project, in another region, whose task fails.
var euScenario = fmt.Sprintf(`
project_id: %s
tasks:
  - id: %s
    name: eu-cache-move
    migration_type: online_migration
    steps:
      - {at: 0s, status: RUNNING}
      - {at: 20s, status: FAILED, error_message: "eu target full"}
`, fixture.ProjectEU, fixture.TaskEU)

func serveScenario(t *testing.T, scenario string, clk *testutil.Clock, t0 time.Time) string {
	t.Helper()
	sc, err := sim.ParseScenario([]byte(scenario))
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(sim.New(sc, sim.Options{AK: plantedAK, SK: plantedSK, Clock: clk.Now, Start: t0}))
	t.Cleanup(api.Close)
	return api.URL
}

// TestTwoProjectsEndToEnd runs two projects, each behind its own
// simulator, through app.Start, the one stream and the one Slack notifier:
// both projects' changes reach Slack, and the API outage of the first
// project (25s to 30s) is one watch_degraded for it alone while the other
// is polled.
func TestTwoProjectsEndToEnd(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) // the harness's
	euClk := testutil.NewClock(t0)
	euURL := serveScenario(t, euScenario, euClk, t0)
	h := newHarness(t, e2eScenario, func(c *config.Config) {
		// The harness's simulator (dcs.endpoint) is the first project's.
		c.DCS.Projects = []config.ProjectConfig{
			{Name: "north", ProjectID: c.DCS.ProjectID},
			{Name: "eu", Region: "eu-west-101", Endpoint: euURL, ProjectID: fixture.ProjectEU},
		}
		c.DCS.ProjectID = ""
	})
	if len(h.app.Projects) != 2 {
		t.Fatalf("%d projects wired, want 2", len(h.app.Projects))
	}
	cycle := func(d time.Duration) {
		h.clk.Set(t0.Add(d))
		euClk.Set(t0.Add(d))
		ctx := testutil.Context(t, h.cycleTimeout)
		if _, err := h.app.Cycle(ctx); err != nil {
			t.Logf("cycle at %s: %v", d, err)
		}
	}
	for _, d := range []time.Duration{0, 26 * time.Second, 31 * time.Second} {
		cycle(d)
	}
	var degraded []string
	eu := map[string]int{}
	for _, e := range h.published() {
		if e.Data.Kind == "watch_degraded" {
			degraded = append(degraded, e.Data.ProjectID)
		}
		if e.Data.ProjectID == fixture.ProjectEU {
			eu[string(e.Data.Kind)]++
			if e.Source != "dcs://eu-west-101/projects/"+fixture.ProjectEU {
				t.Errorf("EU event with source %q", e.Source)
			}
		}
	}
	if len(degraded) != 1 || degraded[0] != project {
		t.Errorf("watch_degraded for %v, want one, for %s", degraded, project)
	}
	if eu["discovered"] != 1 || eu["status_changed"] != 1 {
		t.Errorf("EU project's events %v, want its discovery and its failure at 20s", eu)
	}
	// One notifier posts both projects' news, each named with its project.
	testutil.Eventually(t, "Slack posts of both projects", func() bool {
		all := strings.Join(h.slack.texts(), "\n")
		return strings.Contains(all, "eu-cache-move: RUNNING -> FAILED (project "+fixture.ProjectEU+")") &&
			strings.Contains(all, "cannot see the DCS API (project "+project+")") &&
			strings.Contains(all, "orders-move: RUNNING -> INCRMIGEATING (project "+project+")")
	})
	if all := strings.Join(h.slack.texts(), "\n"); strings.Contains(all, "cannot see the DCS API (project "+fixture.ProjectEU) {
		t.Errorf("Slack reports the EU API blind: %q", all)
	}
	fixture.AssertNoSecrets(t, map[string]string{"slack": strings.Join(h.slack.bodies(), "\n"), "logs": h.logs.String()})
}
