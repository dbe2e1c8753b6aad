package app_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

const (
	projNorth = "0a0000000000000000000000000000a1"
	projEU    = "0b0000000000000000000000000000b2"
	taskNorth = "a1000000000000000000000000000001"
	taskEU    = "b2000000000000000000000000000002"
	ak, sk    = "PLANTEDAKPROJECTS01", "planted-sk-projects-Qx7"
)

// scenario is one project with one task that moves at 10s; faults are the
// project's own API's.
func scenario(project, task, faults string) string {
	return fmt.Sprintf(`
project_id: %s
tasks:
  - id: %s
    name: move-%s
    migration_type: online_migration
    steps:
      - {at: 0s, status: RUNNING}
      - {at: 10s, status: INCRMIGEATING}
faults: %s
`, project, task, project[:4], faults)
}

// fleet is two simulated projects, each with its own API server, and the
// config of one watcher process that watches both.
type fleet struct {
	t0   time.Time
	clk  *testutil.Clock
	cfg  config.Config
	mu   sync.Mutex
	seen []notify.Envelope
}

func newFleet(t *testing.T) *fleet {
	f := &fleet{t0: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	f.clk = testutil.NewClock(f.t0)
	serve := func(sc string) string {
		parsed, err := sim.ParseScenario([]byte(sc))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(sim.New(parsed, sim.Options{AK: ak, SK: sk, Clock: f.clk.Now, Start: f.t0}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	north := serve(scenario(projNorth, taskNorth, "[]"))
	// The EU project's API fails from 15s to 35s; the north one never.
	eu := serve(scenario(projEU, taskEU, `[{at: 15s, for: 20s, kind: server_error, task: ""}]`))
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DCS.AK, cfg.DCS.SK = ak, sk
	cfg.DCS.RateLimit = 1000
	cfg.DCS.Timeout = 2 * time.Second
	cfg.DCS.Projects = []config.ProjectConfig{
		{Name: "north", ProjectID: projNorth, Endpoint: north, RateLimit: 500},
		{Name: "eu", Region: "eu-west-101", Endpoint: eu, ProjectID: projEU},
	}
	cfg.NATS.Listen = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	f.cfg = cfg
	return f
}

// start runs the watcher in this process, as the run command does.
func (f *fleet) start(t *testing.T) *app.App {
	t.Helper()
	a, err := app.Start(testutil.Context(t, 10*time.Second), f.cfg, app.Options{
		Logger: zerolog.Nop(), Now: f.clk.Now,
		Published: func(e notify.Envelope) {
			f.mu.Lock()
			f.seen = append(f.seen, e)
			f.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return a
}

// cycleAt runs one cycle of every project at t0+d and returns the events
// that cycle published.
func (f *fleet) cycleAt(t *testing.T, a *app.App, d time.Duration) []notify.Envelope {
	t.Helper()
	f.mu.Lock()
	from := len(f.seen)
	f.mu.Unlock()
	f.clk.Set(f.t0.Add(d))
	if _, err := a.Cycle(testutil.Context(t, 10*time.Second)); err != nil {
		t.Logf("cycle at %s: %v", d, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]notify.Envelope(nil), f.seen[from:]...)
}

func byProject(envs []notify.Envelope, project string, kind diff.Kind) []notify.Envelope {
	var out []notify.Envelope
	for _, e := range envs {
		if e.Data.ProjectID == project && e.Data.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// Two projects in two regions, each behind its own API, watched by one
// process: each project's events are on its own subjects with its own
// region in source, all in the one stream; the outage of one project's API
// is one watch_degraded for that project only while the other is still
// polled; the snapshots of both are in the one bucket and a restart keeps
// them.
func TestTwoProjectsOneProcess(t *testing.T) {
	f := newFleet(t)
	a := f.start(t)
	defer func() { a.Stop() }()
	if len(a.Projects) != 2 {
		t.Fatalf("%d pollers, want 2", len(a.Projects))
	}

	first := f.cycleAt(t, a, 0)
	for _, c := range []struct{ project, task, source string }{
		{projNorth, taskNorth, "dcs://cn-north-4/projects/" + projNorth},
		{projEU, taskEU, "dcs://eu-west-101/projects/" + projEU},
	} {
		got := byProject(first, c.project, diff.Discovered)
		if len(got) != 1 {
			t.Fatalf("project %s: %d discovered, want 1: %v", c.project, len(got), first)
		}
		e := got[0]
		if e.Source != c.source || e.Subject != c.task ||
			!strings.HasPrefix(e.NATSSubject, "dcs.migration."+c.project+"."+c.task+".") {
			t.Errorf("project %s: source %q subject %q on %q", c.project, e.Source, e.Subject, e.NATSSubject)
		}
	}

	// 20s: the EU API answers 500 while the north task moved at 10s.
	outage := f.cycleAt(t, a, 20*time.Second)
	var degraded []notify.Envelope
	for _, e := range outage {
		if e.Data.Kind == diff.WatchDegraded {
			degraded = append(degraded, e)
		}
	}
	if len(degraded) != 1 || degraded[0].Data.ProjectID != projEU ||
		degraded[0].Source != "dcs://eu-west-101/projects/"+projEU ||
		!strings.HasPrefix(degraded[0].NATSSubject, "dcs.migration."+projEU+".") {
		t.Fatalf("watch_degraded during the EU outage: %+v, want one, for %s", degraded, projEU)
	}
	if got := byProject(outage, projNorth, diff.StatusChanged); len(got) != 1 {
		t.Errorf("north project during the EU outage: %d status_changed, want 1 (still polled): %v", len(got), outage)
	}
	// Still blind at 25s: no second watch_degraded for the same episode.
	if got := byProject(f.cycleAt(t, a, 25*time.Second), projEU, diff.WatchDegraded); len(got) != 0 {
		t.Errorf("a second watch_degraded for the same outage: %v", got)
	}
	back := f.cycleAt(t, a, 40*time.Second)
	if got := byProject(back, projEU, diff.WatchRecovered); len(got) != 1 {
		t.Errorf("EU project after the outage: %d watch_recovered, want 1: %v", len(got), back)
	}
	if got := byProject(back, projEU, diff.StatusChanged); len(got) != 1 {
		t.Errorf("EU project after the outage: %d status_changed, want 1: %v", len(got), back)
	}

	assertOneStream(t, a, f.cfg)
	assertSnapshots(t, a)

	// Restart: the same data directory, a new process.
	a.Stop()
	a = f.start(t)
	assertSnapshots(t, a)
	if again := f.cycleAt(t, a, 50*time.Second); len(again) != 0 {
		t.Errorf("after a restart, unchanged projects published %d event(s): %v", len(again), again)
	}
}

// assertOneStream reads the stream itself: both projects' subjects are in it.
func assertOneStream(t *testing.T, a *app.App, cfg config.Config) {
	t.Helper()
	ctx := testutil.Context(t, 10*time.Second)
	s, err := a.Broker.JS.Stream(ctx, cfg.NATS.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(cfg.NATS.SubjectPrefix+".>"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{projNorth, projEU} {
		n := 0
		for subj, c := range info.State.Subjects {
			if strings.HasPrefix(subj, cfg.NATS.SubjectPrefix+"."+p+".") {
				n += int(c)
			}
		}
		if n == 0 {
			t.Errorf("stream %s holds no event of project %s: %v", cfg.NATS.Stream, p, info.State.Subjects)
		}
	}
}

// assertSnapshots: each project's task and its API record, in one bucket.
func assertSnapshots(t *testing.T, a *app.App) {
	t.Helper()
	for _, c := range []struct{ project, task string }{{projNorth, taskNorth}, {projEU, taskEU}} {
		if _, ok := a.Snaps.Get(c.project, c.task); !ok {
			t.Errorf("no snapshot of %s.%s in the bucket", c.project, c.task)
		}
	}
	if n := len(a.Snaps.Tasks(projNorth)) + len(a.Snaps.Tasks(projEU)); n < 2 {
		t.Errorf("bucket holds %d task snapshots of the two projects", n)
	}
}
