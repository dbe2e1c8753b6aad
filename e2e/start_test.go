package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

// TestStartBeforeNATS starts the binary on an external NATS that is not
// listening yet: it stays up, says once per attempt that it could not
// start, answers /healthz 200 and /readyz 503 meanwhile, and polls once
// NATS comes up 5 s later.
func TestStartBeforeNATS(t *testing.T) {
	bin := watcherBinary(t)
	s := startSim(t, bin, sim.FleetOptions{Tasks: 5, Seed: 6}, time.Now())
	slack := newSlackServer(t)
	port := freePort(t)
	cfg := testutil.WriteFile(t, "watcher.yaml", opsConfig(t.TempDir(), s.url, fmt.Sprintf("nats://127.0.0.1:%d", port), "@every 1s"))
	logs := &testutil.SyncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watcher logs:\n%s", tail(logs.String(), 4000))
		}
	})
	w := spawnWatcher(t, bin, cfg, watcherEnv(slack.URL), logs)
	notStarted := func() int { return strings.Count(logs.String(), `"message":"watcher not started`) }
	testutil.EventuallyWithin(t, 10*time.Second, "a failed start logged", func() bool {
		if w.exited() {
			t.Fatalf("the watcher exited while NATS was not listening: %v", w.err)
		}
		return notStarted() > 0
	})
	addr := httpAddr(t, logs)
	if c, body := get("http://" + addr + "/healthz"); c != 200 {
		t.Errorf("/healthz while not started: %d %s, want 200", c, body)
	}
	if c, body := get("http://" + addr + "/readyz"); c != 503 || !strings.Contains(body, "not started") {
		t.Errorf("/readyz while not started: %d %q, want 503 saying it is not started", c, body)
	}
	// NATS comes up 5 s after the watcher: this wait is the fault's length.
	time.Sleep(5 * time.Second)
	if w.exited() {
		t.Fatalf("the watcher exited while NATS was not listening: %v", w.err)
	}
	attempts := notStarted()
	srv := testutil.RunJetStream(t, port, t.TempDir())
	up := time.Now()
	w.waitRunning(t, 0, 60*time.Second)
	t.Logf("%d failed attempts in the 5 s before NATS listened; running %s after it did",
		attempts, time.Since(up).Round(100*time.Millisecond))
	_, js := testutil.Connect(t, srv.ClientURL())
	testutil.EventuallyWithin(t, 20*time.Second, "the fleet discovered on the stream", func() bool {
		v := readStore(t, js)
		n := 0
		for _, e := range v.events {
			if e.env.Data.Kind == "discovered" {
				n++
			}
		}
		return n == 5
	})
	testutil.EventuallyWithin(t, 20*time.Second, "/readyz once polling", func() bool { c, _ := get("http://" + addr + "/readyz"); return c == 200 })
	w.stop(t)
}

var startErrRe = regexp.MustCompile(`"error":"([^"]*)".*"message":"watcher not started`)

// TestReplicasStartTogether starts three replicas at the same instant on
// a three-node cluster started a moment before (a Deployment of 3 on a
// fresh cluster): the stream, buckets and leases may not be creatable yet,
// so starts fail and are tried again; none exits, and one of them leads
// and polls (the fleet is discovered on the stream).
func TestReplicasStartTogether(t *testing.T) {
	testutil.Long(t, "starts three watchers on a fresh NATS cluster")
	bin := watcherBinary(t)
	s := startSim(t, bin, sim.FleetOptions{Tasks: 10, Seed: 9}, time.Now())
	nc := startClusterNodes(t)
	rs := &replicaSet{t: t, bin: bin, cfg: replicaConfig(t, s.url, nc.url(), 3, nil), env: watcherEnv(newSlackServer(t).URL)}
	t.Cleanup(func() {
		if t.Failed() {
			for i, l := range rs.logs {
				t.Logf("watcher %d logs (last 3000 bytes):\n%s", i, tail(l.String(), 3000))
			}
		}
	})
	for range 3 {
		l := &testutil.SyncBuffer{}
		rs.logs = append(rs.logs, l)
		rs.ws = append(rs.ws, spawnWatcher(t, bin, rs.cfg, rs.env, l))
	}
	for _, w := range rs.ws {
		w.waitRunning(t, 0, 120*time.Second)
	}
	_, js := testutil.Connect(t, nc.url())
	testutil.EventuallyWithin(t, 60*time.Second, "the fleet discovered on the stream", func() bool {
		ctx := testutil.Context(t, 5*time.Second)
		st, err := js.Stream(ctx, "DCS_MIGRATION")
		if err != nil {
			return false
		}
		// Task events only: the replicas' heartbeats come from the start.
		info, err := st.Info(ctx, jetstream.WithSubjectFilter("dcs.migration.*.*.*.*.>"))
		if err != nil {
			return false
		}
		n := uint64(0)
		for _, c := range info.State.Subjects {
			n += c
		}
		return n >= 10
	})
	var retries []int
	why := map[string]bool{}
	for i, w := range rs.ws {
		if w.exited() {
			t.Errorf("replica %d exited: %v", i, w.err)
		}
		n := 0
		for l := range strings.Lines(rs.logs[i].String()) {
			if m := startErrRe.FindStringSubmatch(l); m != nil {
				n++
				why[m[1]] = true
			}
		}
		retries = append(retries, n)
	}
	for w := range why {
		t.Logf("a start failed with: %s", w)
	}
	leaders := 0
	for _, l := range rs.logs {
		if strings.Contains(l.String(), `"message":"lease taken`) {
			leaders++
		}
	}
	t.Logf("failed start attempts per replica %v; replicas that took the lease %d", retries, leaders)
	if leaders == 0 {
		t.Error("no replica took the project's lease")
	}
	for _, w := range rs.ws {
		w.stop(t)
	}
}
