package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natstest "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// natsCluster is three clustered nats-servers with JetStream on loopback.
type natsCluster struct {
	opts []server.Options
	srvs []*server.Server
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startCluster(t *testing.T) *natsCluster {
	t.Helper()
	c := startClusterNodes(t)
	_, js := testutil.Connect(t, c.url())
	testutil.EventuallyWithin(t, 30*time.Second, "a JetStream meta leader", func() bool {
		ctx := testutil.Context(t, 2*time.Second)
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	return c
}

// startClusterNodes starts the three nodes and returns as soon as each
// accepts connections: the cluster may not have elected its JetStream
// meta leader yet.
func startClusterNodes(t *testing.T) *natsCluster {
	t.Helper()
	c := &natsCluster{}
	var routes []string
	cports := make([]int, 3)
	for i := range 3 {
		cports[i] = freePort(t)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", freePort(t)))
	}
	for i := range 3 {
		o := natstest.DefaultTestOptions
		o.ServerName = fmt.Sprintf("n%d", i)
		o.Port = cports[i]
		o.JetStream = true
		o.StoreDir = t.TempDir()
		o.Cluster.Name = "watchers"
		o.Cluster.Host = "127.0.0.1"
		o.Cluster.Port, _ = strconv.Atoi(routes[i][strings.LastIndex(routes[i], ":")+1:])
		o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		c.opts = append(c.opts, o)
	}
	c.srvs = make([]*server.Server, 3)
	for i := range 3 {
		c.start(t, i)
	}
	return c
}

func (c *natsCluster) start(t *testing.T, i int) {
	t.Helper()
	o := c.opts[i]
	srv, err := server.NewServer(&o)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetLoggerV2(nil, false, false, false)
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats node %d not ready", i)
	}
	t.Cleanup(srv.Shutdown)
	c.srvs[i] = srv
}

func (c *natsCluster) url() string {
	var u []string
	for _, o := range c.opts {
		u = append(u, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	return strings.Join(u, ",")
}

// replicaConfig is a watcher config on the cluster: stream, snapshots and
// leases with 3 replicas, a 3 s lease; projects, when given, are the
// fleet's project under several ids (the simulator serves any).
func replicaConfig(t *testing.T, endpoint, natsURL string, replicas int, projects []string) string {
	t.Helper()
	dcsLine := fmt.Sprintf("dcs: {endpoint: %q, project_id: %q, rate_limit: 1000, concurrency: 8, timeout: 5s}", endpoint, sim.FleetProjectID)
	if len(projects) > 0 {
		var ps []string
		for _, p := range projects {
			ps = append(ps, fmt.Sprintf("{name: %s, project_id: %s}", p, p))
		}
		dcsLine = fmt.Sprintf("dcs: {endpoint: %q, rate_limit: 1000, concurrency: 8, timeout: 5s, projects: [%s]}", endpoint, strings.Join(ps, ", "))
	}
	cfg := fmt.Sprintf(`log: {level: info, format: json}
data_dir: %q
%s
poll: {schedule: "@every 1s", discover: true, detail: on_change}
nats: {url: %q, duplicate_window: 1h, replicas: %d, lease_ttl: 3s}
slack: {enabled: true, group_min: 0, rate: 10, min_retry_delay: 200ms, max_retry_delay: 2s, timeout: 5s}
`, t.TempDir(), dcsLine, natsURL, replicas)
	return testutil.WriteFile(t, "watcher.yaml", cfg)
}

var holderPID = regexp.MustCompile(`-(\d+)-[0-9a-f]+$`)

// holders are the lease keys' holders, by pid, as the bucket says now
// (expired leases left out).
func holders(t *testing.T, kv jetstream.KeyValue) map[string]int {
	t.Helper()
	ctx := testutil.Context(t, 5*time.Second)
	out := map[string]int{}
	lister, err := kv.ListKeysFiltered(ctx, "lease.>")
	if err != nil {
		return out
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var r struct {
			Holder  string    `json:"holder"`
			Expires time.Time `json:"expires"`
		}
		if json.Unmarshal(e.Value(), &r) != nil || time.Now().After(r.Expires) {
			continue
		}
		if m := holderPID.FindStringSubmatch(r.Holder); m != nil {
			out[k], _ = strconv.Atoi(m[1])
		}
	}
	return out
}

// replicaSet is the watcher processes of a test, each with its own logs.
type replicaSet struct {
	t    *testing.T
	bin  string
	cfg  string
	env  []string
	ws   []*watcherProc
	logs []*testutil.SyncBuffer
}

func (r *replicaSet) start(i int) {
	if i == len(r.ws) {
		r.ws = append(r.ws, nil)
		r.logs = append(r.logs, &testutil.SyncBuffer{})
	}
	r.ws[i] = startWatcher(r.t, r.bin, r.cfg, r.env, r.logs[i])
}

func (r *replicaSet) byPID(pid int) int {
	for i, w := range r.ws {
		if w != nil && w.cmd.Process.Pid == pid {
			return i
		}
	}
	return -1
}

// TestReplicasOnCluster runs three watchers of the real binary on a
// three-node NATS cluster against one project's changing fleet: the
// leader is SIGKILLed five times (another replica takes over), a NATS
// node is killed and restarted, and a leader is SIGSTOPped past its lease
// and woken. The stream must then hold every visible change once, in
// unbroken chains; Slack every event once (outside kill windows); and the
// woken leader must have published nothing.
func TestReplicasOnCluster(t *testing.T) {
	testutil.Long(t, "runs three watchers on a NATS cluster for about two minutes")
	bin := watcherBinary(t)
	nc := startCluster(t)
	o := sim.FleetOptions{Tasks: 100, Seed: 21, ChangeRate: 4, ChangeFrom: 3 * time.Second, ChangeTo: 75 * time.Second}
	s := startSim(t, bin, o, time.Now().Add(2*time.Second))
	slack := newSlackServer(t)
	rs := &replicaSet{t: t, bin: bin, cfg: replicaConfig(t, s.url, nc.url(), 3, nil), env: watcherEnv(slack.URL)}
	t.Cleanup(func() {
		if dir := os.Getenv("WATCHER_TEST_LOGS"); dir != "" {
			for i, l := range rs.logs {
				_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.log", t.Name(), i)), []byte(l.String()), 0o600)
			}
		}
		if t.Failed() {
			for i, l := range rs.logs {
				t.Logf("watcher %d logs (last 3000 bytes):\n%s", i, tail(l.String(), 3000))
			}
		}
	})
	for i := range 3 {
		rs.start(i)
	}
	_, js := testutil.Connect(t, nc.url())
	var kv jetstream.KeyValue
	testutil.EventuallyWithin(t, 20*time.Second, "the lease bucket", func() bool {
		var err error
		kv, err = js.KeyValue(testutil.Context(t, 2*time.Second), "dcs_watcher_leases")
		return err == nil
	})
	leader := func() int {
		for _, pid := range holders(t, kv) {
			return pid
		}
		return 0
	}
	testutil.EventuallyWithin(t, 20*time.Second, "a leader", func() bool { return leader() != 0 })

	var kills, gapsFrom, gapsTo []time.Time
	var takeovers []time.Duration
	for range 5 {
		old := leader()
		i := rs.byPID(old)
		if i < 0 {
			t.Fatalf("leader pid %d is none of the watchers", old)
		}
		k := time.Now()
		rs.ws[i].kill()
		kills = append(kills, k)
		var next int
		testutil.EventuallyWithin(t, 20*time.Second, "another replica's lease", func() bool {
			next = leader()
			return next != 0 && next != old
		})
		took := time.Since(k)
		takeovers = append(takeovers, took)
		gapsFrom, gapsTo = append(gapsFrom, k), append(gapsTo, time.Now().Add(time.Second))
		t.Logf("leader %d killed at %s: replica %d leads after %s", old, k.Sub(s.start).Round(time.Millisecond), next, took.Round(time.Millisecond))
		rs.start(i)
		// The next kill falls mid-work: once the new leader has published
		// a few status changes of its own.
		if j := rs.byPID(next); j >= 0 {
			mark := len(rs.logs[j].String())
			testutil.EventuallyWithin(t, 30*time.Second, "the new leader publishing", func() bool {
				return changesPublished(rs.logs[j].String()[mark:]) >= 10
			})
		}
	}

	// A NATS node goes away and comes back on its port and store.
	nc.srvs[1].Shutdown()
	nc.srvs[1].WaitForShutdown()
	testutil.EventuallyWithin(t, 30*time.Second, "a leader without node 1", func() bool { return leader() != 0 })
	nc.start(t, 1)
	t.Logf("nats node 1 restarted at %s", time.Since(s.start).Round(time.Millisecond))

	// A leader is paused past its lease, then woken.
	old := leader()
	i := rs.byPID(old)
	p := rs.ws[i].cmd.Process
	stopped := time.Now()
	_ = p.Signal(syscall.SIGSTOP)
	kills = append(kills, stopped) // its Slack deliveries in flight are redelivered
	testutil.EventuallyWithin(t, 20*time.Second, "a lease taken from the paused leader", func() bool {
		n := leader()
		return n != 0 && n != old
	})
	mark := len(rs.logs[i].String())
	_ = p.Signal(syscall.SIGCONT)
	gapsFrom, gapsTo = append(gapsFrom, stopped), append(gapsTo, time.Now().Add(time.Second))
	testutil.EventuallyWithin(t, 20*time.Second, "the woken leader stops", func() bool {
		l := rs.logs[i].String()[mark:]
		return strings.Contains(l, "lease expired unrenewed") || strings.Contains(l, "lease lost")
	})
	woke := rs.logs[i].String()[mark:]
	if j := strings.Index(woke, `"message":"lease taken`); j >= 0 {
		woke = woke[:j] // a later, legitimate tenure
	}
	if n := strings.Count(woke, `"message":"event published"`); n > 0 {
		t.Errorf("the leader woken after its lease was taken published %d event(s)", n)
	}
	t.Logf("leader paused %s, woken and stopped without publishing", time.Since(stopped).Round(time.Millisecond))

	// From here on, no fault: one replica polls, the others stand by.
	marks := make([]int, len(rs.logs))
	for j, l := range rs.logs {
		marks[j] = len(l.String())
	}
	tr := waitQuietAndDelivered(t, s, slack, 90*time.Second)
	var publishers []int
	for j, l := range rs.logs {
		if strings.Contains(l.String()[marks[j]:], `"message":"event published"`) {
			publishers = append(publishers, j)
		}
	}
	if len(publishers) != 1 {
		t.Errorf("after the last fault, replicas %v published events; want one leader", publishers)
	}
	// Every event on the stream delivered: nothing left in a batch held by
	// a replica (a crashed one's is redelivered after AckWait, 30 s).
	testutil.EventuallyWithin(t, 75*time.Second, "the Slack consumer drained", func() bool {
		ctx := testutil.Context(t, 2*time.Second)
		c, err := js.Consumer(ctx, "DCS_MIGRATION", "watcher-slack")
		if err != nil {
			return false
		}
		ci, err := c.Info(ctx)
		return err == nil && ci.NumAckPending == 0 && ci.NumPending == 0
	})
	for _, w := range rs.ws {
		w.stop(t)
	}
	// Reads may be answered by any replica (direct gets): wait until all
	// are current.
	settled(t, js, "DCS_MIGRATION", "KV_dcs_watcher_snapshots")
	v := readStore(t, js)
	// The watchers could see the fleet except between a fault and the
	// next leader's first cycle.
	var up []upInterval
	from := rs.ws[0].ready
	for j := range gapsFrom {
		up = append(up, upInterval{from, gapsFrom[j]})
		from = gapsTo[j]
	}
	up = append(up, upInterval{from, time.Now().Add(time.Hour)})
	a := auditRun(s, tr, v, slack.all(), up, kills, true)
	slices.Sort(takeovers)
	t.Logf("take-over after SIGKILL: median %s, max %s, n %d (lease ttl 3s, cycle 1s)",
		takeovers[len(takeovers)/2].Round(time.Millisecond), takeovers[len(takeovers)-1].Round(time.Millisecond), len(takeovers))
	t.Logf("%s; slack consumer ack pending %d, pending %d", a, v.ackPending, v.pending)
	for _, p := range a.problems {
		t.Log(p)
	}
	if f := a.failures(); len(f) > 0 {
		t.Errorf("three replicas, leader kills, a NATS node restart, a paused leader: %v", f)
	}
}

// changesPublished counts the status_changed events a watcher's log says
// it published.
func changesPublished(logs string) int {
	n := 0
	for l := range strings.Lines(logs) {
		if strings.Contains(l, `"kind":"status_changed"`) && strings.Contains(l, `"message":"event published"`) {
			n++
		}
	}
	return n
}

// settled waits until every replica of each stream is current.
func settled(t *testing.T, js jetstream.JetStream, streams ...string) {
	t.Helper()
	for _, name := range streams {
		testutil.EventuallyWithin(t, 30*time.Second, name+" replicas current", func() bool {
			ctx := testutil.Context(t, 2*time.Second)
			st, err := js.Stream(ctx, name)
			if err != nil {
				return false
			}
			info, err := st.Info(ctx)
			if err != nil || info.Cluster == nil || info.Cluster.Leader == "" {
				return false
			}
			for _, r := range info.Cluster.Replicas {
				if !r.Current || r.Lag > 0 || r.Offline {
					return false
				}
			}
			return len(info.Cluster.Replicas) == 2
		})
	}
}

// TestLeasesSpread: six projects over one, two and three replicas; a
// replica leaving with SIGTERM hands its leases over at once, one killed
// by their expiry. (The simulator serves one project: the pollers of the
// others fail, which leaves the leases, the subject here, as they are.)
func TestLeasesSpread(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three watchers for about 30 s")
	}
	bin := watcherBinary(t)
	srv := testutil.RunJetStream(t, -1, t.TempDir())
	o := sim.FleetOptions{Tasks: 5, Seed: 3, ChangeRate: 0.1, ChangeFrom: time.Hour, ChangeTo: 2 * time.Hour}
	s := startSim(t, bin, o, time.Now())
	projects := []string{sim.FleetProjectID, "p2", "p3", "p4", "p5", "p6"}
	rs := &replicaSet{t: t, bin: bin, cfg: replicaConfig(t, s.url, srv.ClientURL(), 1, projects), env: watcherEnv(newSlackServer(t).URL)}
	_, js := testutil.Connect(t, srv.ClientURL())
	var kv jetstream.KeyValue
	spread := func() []int {
		n := map[int]int{}
		for _, pid := range holders(t, kv) {
			n[pid]++
		}
		var out []int
		for _, w := range rs.ws {
			if w != nil {
				out = append(out, n[w.cmd.Process.Pid])
			}
		}
		slices.Sort(out)
		return out
	}
	want := func(what string, counts ...int) {
		t.Helper()
		var got []int
		testutil.EventuallyWithin(t, 20*time.Second, what, func() bool {
			got = spread()
			return slices.Equal(got, counts)
		})
		t.Logf("%s: leases per replica %v", what, got)
	}
	rs.start(0)
	testutil.EventuallyWithin(t, 20*time.Second, "the lease bucket", func() bool {
		var err error
		kv, err = js.KeyValue(testutil.Context(t, 2*time.Second), "dcs_watcher_leases")
		return err == nil
	})
	want("one replica", 6)
	rs.start(1)
	want("two replicas", 3, 3)
	rs.start(2)
	want("three replicas", 2, 2, 2)
	rs.ws[2].stop(t)
	rs.ws[2] = nil
	left := time.Now()
	want("one replica left (SIGTERM)", 3, 3)
	t.Logf("its leases taken over %s after SIGTERM", time.Since(left).Round(time.Millisecond))
	rs.ws[1].kill()
	rs.ws[1] = nil
	killed := time.Now()
	want("one replica killed", 6)
	t.Logf("its leases taken over %s after SIGKILL (lease ttl 3s)", time.Since(killed).Round(time.Millisecond))
}

// TestStandbyReady: two replicas of one project on one NATS. The one
// without the lease is a standby: /readyz says ready (it needs only NATS;
// a rolling update must not wait for it to poll), its metrics say it holds
// no lease and count two replicas, and it reports no task gauges (the
// leader's are the current ones). When the leader is killed the standby
// takes the lease and polls.
func TestStandbyReady(t *testing.T) {
	bin := watcherBinary(t)
	srv := testutil.RunJetStream(t, -1, t.TempDir())
	s := startSim(t, bin, sim.FleetOptions{Tasks: 10, Seed: 8, ChangeRate: 0.5, ChangeFrom: 0, ChangeTo: time.Hour}, time.Now())
	env := watcherEnv(newSlackServer(t).URL)
	var ws []*watcherProc
	var addrs []string
	for range 2 {
		text := strings.Replace(opsConfig(t.TempDir(), s.url, srv.ClientURL(), "@every 1s"),
			"nats: {url: ", "nats: {lease_ttl: 2s, url: ", 1)
		logs := &testutil.SyncBuffer{}
		ws = append(ws, startWatcher(t, bin, testutil.WriteFile(t, "watcher.yaml", text), env, logs))
		addrs = append(addrs, httpAddr(t, logs))
	}
	held := func(i int) float64 {
		f := scrape(t, addrs[i])
		if f["dcs_watcher_leases_held"] == nil {
			return -1
		}
		return sample(f, "dcs_watcher_leases_held", "", "")
	}
	leader := -1
	testutil.EventuallyWithin(t, 20*time.Second, "one leader, one standby, both counting two replicas", func() bool {
		if held(0)+held(1) != 1 {
			return false
		}
		for i := range 2 {
			if sample(scrape(t, addrs[i]), "dcs_watcher_replicas_live", "", "") != 2 {
				return false
			}
		}
		leader = 0
		if held(1) == 1 {
			leader = 1
		}
		return true
	})
	standby := 1 - leader
	for i, who := range []string{"leader", "standby"} {
		at := []int{leader, standby}[i]
		testutil.EventuallyWithin(t, 20*time.Second, "/readyz of the "+who, func() bool {
			c, _ := get("http://" + addrs[at] + "/readyz")
			return c == 200
		})
	}
	if f := scrape(t, addrs[standby]); f["dcs_watcher_tasks"] != nil && sample(f, "dcs_watcher_tasks", "", "") > 0 {
		t.Errorf("the standby reports %v tasks; the leader reports them", sample(f, "dcs_watcher_tasks", "", ""))
	}
	testutil.EventuallyWithin(t, 20*time.Second, "the leader's task gauges", func() bool {
		f := scrape(t, addrs[leader])
		return f["dcs_watcher_tasks"] != nil && sample(f, "dcs_watcher_tasks", "", "") > 0
	})

	ws[leader].kill()
	testutil.EventuallyWithin(t, 20*time.Second, "the standby leading and ready", func() bool {
		c, _ := get("http://" + addrs[standby] + "/readyz")
		f := scrape(t, addrs[standby])
		return c == 200 && held(standby) == 1 && f["dcs_watcher_tasks"] != nil && sample(f, "dcs_watcher_tasks", "", "") > 0
	})
}
