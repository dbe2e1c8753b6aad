package e2e

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestKillNineRun kills the watcher with SIGKILL at random moments while a
// fleet of 200 tasks makes about 560 status changes, restarting it each
// time on the same data directory (embedded NATS). Once the fleet is quiet
// and Slack has caught up, the store left on disk must hold, for every
// task, a continuous chain of status changes that follows the plan and
// ends in the API's status (and the snapshot must agree), no id twice, no
// transition doubled, no visible change missing; Slack must have every
// event once (a double is tolerated only when a kill fell right after
// Slack's answer: the documented window before the delivery mark).
func TestKillNineRun(t *testing.T) {
	testutil.Long(t, "runs the binary for about 100 s")
	bin := watcherBinary(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill schedule seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	o := sim.FleetOptions{Tasks: 200, Seed: 11, ChangeRate: 8, ChangeFrom: 4 * time.Second, ChangeTo: 68 * time.Second}
	r := startFleetRun(t, bin, o, "", 4000)
	s, slack, w, start := r.s, r.slack, r.w, r.s.start
	cfg, env, logs, dataDir := r.cfg, r.env, r.logs, r.dataDir

	var up []upInterval
	var kills []time.Time
	for len(kills) < 10 || time.Since(start) < o.ChangeTo {
		// A random moment 1.5 to 6 s into this life: long enough to get
		// some work done, random within cycles and deliveries.
		time.Sleep(1500*time.Millisecond + time.Duration(rng.Int64N(int64(4500*time.Millisecond))))
		w.kill()
		k := time.Now()
		kills = append(kills, k)
		up = append(up, upInterval{w.ready, k})
		w = startWatcher(t, bin, cfg, env, logs)
	}
	up = append(up, upInterval{w.ready, time.Now().Add(time.Hour)})

	// After each restart Slack waits for the killed run's unacked batch to
	// be redelivered (up to 35 s), so that it posts first: the backlog of
	// the kill phase goes out after the last restart's wait.
	tr := waitQuietAndDelivered(t, s, slack, 150*time.Second)
	t.Logf("slack caught up %s after the last restart", time.Since(w.ready).Round(100*time.Millisecond))
	w.stop(t)
	v := readDataDir(t, dataDir)
	if !covered(v, slack) {
		// Events a killed watcher had in flight come back after the
		// consumer's ack wait: give a last watcher the time to post them.
		w = startWatcher(t, bin, cfg, env, logs)
		deadline := time.Now().Add(60 * time.Second)
		for !covered(v, slack) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		w.stop(t)
		v = readDataDir(t, dataDir)
	}
	a := auditRun(s, tr, v, slack.all(), up, kills, true)
	t.Logf("kills survived %d; %s; slack consumer ack pending %d, pending %d", len(kills), a, v.ackPending, v.pending)
	for _, p := range a.problems {
		t.Log(p)
	}
	if a.planned < 500 {
		t.Errorf("the plan made %d status changes, want at least 500", a.planned)
	}
	if f := a.failures(); len(f) > 0 {
		t.Errorf("after %d kills: %v", len(kills), f)
	}
}
