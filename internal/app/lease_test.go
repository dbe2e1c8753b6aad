package app

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/lease"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestFencedLeaderWritesNothing: a replica polls under its lease; another
// replica takes the lease over while a cycle of the first is in flight
// (after the cycle's own check: the take-over happens while the API
// answers). The first still believes it leads, but its cycle must neither
// advance the snapshot nor publish the change it found; it says why.
func TestFencedLeaderWritesNothing(t *testing.T) {
	const project, task = "0c0000000000000000000000000000c3", "c3000000000000000000000000000003"
	const ak, sk = "PLANTEDAKFENCE00001", "planted-sk-fence-Qx7"
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clk := testutil.NewClock(t0)
	sc, err := sim.ParseScenario([]byte(`
project_id: ` + project + `
tasks:
  - id: ` + task + `
    name: move-fenced
    migration_type: online_migration
    steps:
      - {at: 0s, status: RUNNING}
      - {at: 10s, status: INCRMIGEATING}
`))
	if err != nil {
		t.Fatal(err)
	}
	api := sim.New(sc, sim.Options{AK: ak, SK: sk, Clock: clk.Now, Start: t0})
	// takeOver, when set, runs before the API answers (once).
	var mu sync.Mutex
	var takeOver func()
	dcs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		f := takeOver
		takeOver = nil
		mu.Unlock()
		if f != nil {
			f()
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(dcs.Close)

	srv := testutil.RunJetStream(t, -1, t.TempDir())
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DCS.AK, cfg.DCS.SK = ak, sk
	cfg.DCS.Endpoint, cfg.DCS.ProjectID = dcs.URL, project
	cfg.DCS.RateLimit, cfg.DCS.Timeout = 1000, 2*time.Second
	cfg.NATS.URL = srv.ClientURL()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := testutil.Context(t, 30*time.Second)
	a, err := Start(ctx, cfg, Options{Logger: zerolog.Nop(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	if a.Leases == nil {
		t.Fatal("no leases with an external NATS")
	}
	p := a.Projects[0]
	key := lease.LeaseKey(p.Region, p.ProjectID)
	h, err := a.Leases.Acquire(ctx, key)
	if err != nil || h == nil {
		t.Fatalf("acquire: %v %v", h, err)
	}
	fenced := a.poller(p.Project, p.client, p.pub, a.opts, func(ctx context.Context) error { return a.fence(ctx, h) }, poller.JournalOptions{})

	stream := func() uint64 {
		st, err := a.Broker.JS.Stream(ctx, cfg.NATS.Stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	clk.Set(t0.Add(time.Second))
	if _, err := fenced.Cycle(ctx); err != nil {
		t.Fatalf("the leader's first cycle: %v", err)
	}
	before, snap := stream(), a.Snaps.Tasks(project)
	if before != 1 || len(snap) != 1 {
		t.Fatalf("after the first cycle: %d events, %d snapshots; want the task discovered", before, len(snap))
	}

	// Replica b's clock is past a's expiry: it takes the lease over while
	// a's next cycle is asking the API.
	b, err := lease.Open(ctx, a.Broker.JS, lease.Options{
		Bucket: cfg.NATS.LeaseBucket, TTL: cfg.NATS.LeaseTTL, Identity: "replica-b",
		Now: func() time.Time { return time.Now().Add(time.Hour) },
	})
	if err != nil {
		t.Fatal(err)
	}
	took := make(chan error, 1)
	mu.Lock()
	takeOver = func() {
		hb, err := b.Acquire(context.Background(), key)
		if err == nil && hb == nil {
			err = errors.New("lease not taken")
		}
		took <- err
	}
	mu.Unlock()
	clk.Set(t0.Add(11 * time.Second))
	_, err = fenced.Cycle(ctx)
	if err := <-took; err != nil {
		t.Fatalf("replica b's take-over: %v", err)
	}
	if !errors.Is(err, lease.ErrLost) {
		t.Errorf("the fenced cycle returned %v, want lease.ErrLost", err)
	}
	if n := stream(); n != before {
		t.Errorf("the replica that lost its lease published %d event(s)", n-before)
	}
	if err := a.Snaps.Reload(ctx, project); err != nil {
		t.Fatal(err)
	}
	after := a.Snaps.Tasks(project)
	if len(after) != 1 || after[0].Revision != snap[0].Revision || after[0].Task.Status != "RUNNING" || len(after[0].Pending) > 0 {
		for _, e := range after {
			t.Errorf("snapshot advanced by the replica that lost its lease: revision %d (was %d), status %s, %d event(s) owed",
				e.Revision, snap[0].Revision, e.Task.Status, len(e.Pending))
		}
	}
}

// TestReplicaTakesBackItsOwnLease: a lease record left by this replica
// (a reload cut short while the one before took the lease, so nobody
// released it) is the replica's own: the next App of the process, under
// the same Replica name, takes it at once and polls, instead of waiting
// out the record's hour.
func TestReplicaTakesBackItsOwnLease(t *testing.T) {
	const project, ak, sk = "0d0000000000000000000000000000d4", "PLANTEDAKRELOAD0001", "planted-sk-reload-Qx7"
	sc, err := sim.ParseScenario([]byte(`
project_id: ` + project + `
tasks:
  - id: d4000000000000000000000000000004
    name: move-reloaded
    migration_type: online_migration
    steps:
      - {at: 0s, status: RUNNING}
`))
	if err != nil {
		t.Fatal(err)
	}
	dcs := httptest.NewServer(sim.New(sc, sim.Options{AK: ak, SK: sk}))
	t.Cleanup(dcs.Close)
	srv := testutil.RunJetStream(t, -1, t.TempDir())
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DCS.AK, cfg.DCS.SK = ak, sk
	cfg.DCS.Endpoint, cfg.DCS.ProjectID = dcs.URL, project
	cfg.DCS.RateLimit, cfg.DCS.Timeout = 1000, 2*time.Second
	cfg.NATS.URL = srv.ClientURL()
	cfg.Poll.Schedule = "@every 1s"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := testutil.Context(t, 30*time.Second)
	_, js := testutil.Connect(t, srv.ClientURL())
	left, err := lease.Open(ctx, js, lease.Options{Bucket: cfg.NATS.LeaseBucket, TTL: time.Hour, Identity: "replica-r"})
	if err != nil {
		t.Fatal(err)
	}
	key := lease.LeaseKey(cfg.DCS.Region, project)
	if h, err := left.Acquire(ctx, key); err != nil || h == nil {
		t.Fatalf("planting the left lease: %v %v", h, err)
	}

	a, err := Start(ctx, cfg, Options{Logger: zerolog.Nop(), Replica: "replica-r"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	testutil.EventuallyWithin(t, 20*time.Second, "the replica leading the project again under the lease it left", func() bool {
		return a.Leads(0) && len(a.Snaps.Tasks(project)) == 1
	})
}
