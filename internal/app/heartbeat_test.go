package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// beatWatcher is one watcher of projNorth against the simulator. With clk
// the simulator keeps clk's time, which the test moves (the faults'
// windows), and the watcher must too (Options.Now: it signs its calls with
// it); without, both keep the real clock.
func beatWatcher(t *testing.T, clk *testutil.Clock, faults string, edit func(*config.Config)) config.Config {
	t.Helper()
	sc, err := sim.ParseScenario([]byte(scenario(projNorth, taskNorth, faults)))
	if err != nil {
		t.Fatal(err)
	}
	o := sim.Options{AK: ak, SK: sk, Start: time.Now()}
	if clk != nil {
		o.Clock, o.Start = clk.Now, clk.Now()
	}
	api := httptest.NewServer(sim.New(sc, o))
	t.Cleanup(api.Close)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DCS.AK, cfg.DCS.SK = ak, sk
	cfg.DCS.Endpoint, cfg.DCS.ProjectID = api.URL, projNorth
	cfg.DCS.Timeout = 2 * time.Second
	cfg.NATS.Listen = "127.0.0.1:0"
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

var simStart = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// run starts the watcher's Run and stops it with the test.
func run(t *testing.T, a *app.App) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		a.Stop()
	})
}

// TestHeartbeatCadence: with heartbeat.every 1s a replica publishes its
// heartbeat on <prefix>._watcher.heartbeat at once and then every second:
// consecutive sequence numbers, one replica and start, times that grow
// (the third at least a second after the first: ticks never come early),
// distinct ids that are the messages' Nats-Msg-Id, and the project it polls
// with its last successful cycle once there was one.
func TestHeartbeatCadence(t *testing.T) {
	cfg := beatWatcher(t, nil, "[]", func(c *config.Config) {
		c.Heartbeat.Every = time.Second
		c.Poll.Schedule = "@every 1h" // one cycle, at the start
	})
	a, err := app.Start(testutil.Context(t, 20*time.Second), cfg, app.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var msgs []*nats.Msg
	sub, err := a.Broker.Conn.Subscribe(cfg.NATS.SubjectPrefix+".>", func(m *nats.Msg) {
		mu.Lock()
		msgs = append(msgs, m)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	run(t, a)

	var beats []event.Envelope
	var bodies []int
	testutil.EventuallyWithin(t, 30*time.Second, "3 heartbeats, the last with the project's successful cycle", func() bool {
		mu.Lock()
		defer mu.Unlock()
		beats, bodies = beats[:0], bodies[:0]
		for _, m := range msgs {
			if m.Subject != event.HeartbeatSubject(cfg.NATS.SubjectPrefix) {
				continue
			}
			env, err := event.Decode(m.Data)
			if err != nil {
				t.Fatalf("heartbeat does not decode: %v\n%s", err, m.Data)
			}
			if id := m.Header.Get(jetstream.MsgIDHeader); id != env.ID {
				t.Fatalf("Nats-Msg-Id %q, want the event id %q", id, env.ID)
			}
			beats, bodies = append(beats, env), append(bodies, len(m.Data))
		}
		if len(beats) < 3 {
			return false
		}
		ps := beats[len(beats)-1].Data.Heartbeat.Projects
		return len(ps) == 1 && ps[0].LastSuccess != nil
	})
	first := beats[0].Data.Heartbeat
	ids := map[string]bool{}
	for i, env := range beats {
		hb := env.Data.Heartbeat
		switch {
		case env.Data.Kind != event.Heartbeat || env.Type != event.TypeOf(event.Heartbeat) || env.Data.ProjectID != event.WatcherProject:
			t.Errorf("heartbeat %d: kind %q type %q project %q", i, env.Data.Kind, env.Type, env.Data.ProjectID)
		case hb == nil:
			t.Fatalf("heartbeat %d has no data.heartbeat", i)
		case hb.Seq != uint64(i+1) || hb.Replica != first.Replica || !hb.Started.Equal(first.Started) || hb.Replica == "":
			t.Errorf("heartbeat %d: seq %d replica %q started %v; want seq %d of replica %q started %v", i, hb.Seq, hb.Replica, hb.Started, i+1, first.Replica, first.Started)
		case hb.Replicas != 1 || hb.Version == "":
			t.Errorf("heartbeat %d: replicas %d version %q", i, hb.Replicas, hb.Version)
		case len(hb.Projects) != 1 || hb.Projects[0].ProjectID != projNorth:
			t.Errorf("heartbeat %d: projects %+v, want %s", i, hb.Projects, projNorth)
		case i > 0 && !env.Time.After(beats[i-1].Time):
			t.Errorf("heartbeat %d at %v, not after the one before (%v)", i, env.Time, beats[i-1].Time)
		case ids[env.ID]:
			t.Errorf("heartbeat %d repeats id %s", i, env.ID)
		}
		ids[env.ID] = true
	}
	if gap := beats[2].Time.Sub(beats[0].Time); gap < time.Second {
		t.Errorf("3 heartbeats within %v at heartbeat.every 1s", gap)
	}
	t.Logf("heartbeat body sizes (bytes): %v\n%s", bodies, msgs[len(msgs)-1].Data)
}

// TestSlackConsumerSkipsHeartbeats: the Slack notifier's durable consumer,
// made by an older watcher over every subject ("<prefix>.>"), is narrowed
// at start to the task events' five tokens, which heartbeats lack; none
// reaches Slack.
func TestSlackConsumerSkipsHeartbeats(t *testing.T) {
	var posts atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(hook.Close)
	cfg := beatWatcher(t, nil, "[]", func(c *config.Config) {
		c.Heartbeat.Every = time.Second
		c.Slack.Enabled = true
		c.Slack.WebhookURL = secret.Secret(hook.URL + "/services/T1/B1/x")
	})
	ctx := testutil.Context(t, 30*time.Second)
	a, err := app.Start(ctx, cfg, app.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	old := cfg.NATS.SubjectPrefix + ".>"
	if _, err := a.Broker.JS.CreateOrUpdateConsumer(ctx, cfg.NATS.Stream, jetstream.ConsumerConfig{
		Durable: cfg.Slack.Consumer, FilterSubject: old, AckPolicy: jetstream.AckExplicitPolicy,
	}); err != nil {
		t.Fatal(err)
	}
	run(t, a)
	stream, err := a.Broker.JS.Stream(ctx, cfg.NATS.Stream)
	if err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyWithin(t, 20*time.Second, "2 heartbeats on the stream", func() bool {
		subj := event.HeartbeatSubject(cfg.NATS.SubjectPrefix)
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subj))
		return err == nil && info.State.Subjects[subj] >= 2
	})
	var filter string
	testutil.EventuallyWithin(t, 20*time.Second, "the Slack consumer's filter narrowed", func() bool {
		c, err := a.Broker.JS.Consumer(ctx, cfg.NATS.Stream, cfg.Slack.Consumer)
		if err != nil {
			return false
		}
		filter = c.CachedInfo().Config.FilterSubject
		return filter != old
	})
	if want := cfg.NATS.SubjectPrefix + ".*.*.*.*.>"; filter != want {
		t.Fatalf("Slack consumer filter %q, want %q", filter, want)
	}
	// Every message its filter selects is a task event.
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatal(err)
	}
	for subj := range info.State.Subjects {
		if strings.Contains(subj, event.WatcherProject+"."+string(event.Heartbeat)) {
			t.Errorf("the Slack consumer's filter selects %s", subj)
		}
	}
	if n := posts.Load(); n != 0 {
		t.Errorf("%d Slack post(s) for a quiet start with heartbeats only", n)
	}
}

// pingTarget counts the GETs of the ping URL.
func pingTarget(t *testing.T) (*atomic.Int64, string) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/ping/"+pingToken) {
			n.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	return &n, srv.URL + "/ping/" + pingToken
}

const pingToken = "SECRET-TOKEN-123"

// TestPingOnlyAfterSuccessfulCycle, as the once command does: a cycle that
// saw the API pings, one in the simulator's 500s does not, and the next
// good one pings again.
func TestPingOnlyAfterSuccessfulCycle(t *testing.T) {
	pings, url := pingTarget(t)
	clk := testutil.NewClock(simStart)
	cfg := beatWatcher(t, clk, "[{at: 20s, for: 20s, kind: server_error}]", func(c *config.Config) {
		c.Heartbeat.PingURL = secret.Secret(url)
	})
	ctx := testutil.Context(t, 60*time.Second)
	a, err := app.Start(ctx, cfg, app.Options{Logger: zerolog.Nop(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	step := func(at time.Duration, wantOK bool, want int64) {
		t.Helper()
		clk.Set(simStart.Add(at))
		stats, err := a.Cycle(ctx)
		if ok := err == nil && stats[0].Failed == 0; ok != wantOK {
			t.Fatalf("cycle at %v: err %v, %d failed; want success %v", at, err, stats[0].Failed, wantOK)
		}
		if err := a.Ping(ctx); err != nil {
			t.Fatalf("ping: %v", err)
		}
		if got := pings.Load(); got != want {
			t.Fatalf("after the cycle at %v: %d ping(s), want %d", at, got, want)
		}
	}
	step(0, true, 1)
	step(25*time.Second, false, 1) // the API answers 500
	step(30*time.Second, false, 1)
	step(45*time.Second, true, 2)
}

// TestPingFollowsRunsCycles: under Run (a cycle a second) the pings come
// while the API answers, stop while it answers 500 (four failed cycles add
// none after the first failure is in) and come again after.
func TestPingFollowsRunsCycles(t *testing.T) {
	pings, url := pingTarget(t)
	clk := testutil.NewClock(simStart)
	cfg := beatWatcher(t, clk, "[{at: 20s, for: 20s, kind: server_error}]", func(c *config.Config) {
		c.Heartbeat.PingURL = secret.Secret(url)
		c.Heartbeat.Every = 0
		c.Poll.Schedule = "@every 1s"
	})
	var okCycles, failedCycles atomic.Int64
	a, err := app.Start(testutil.Context(t, 20*time.Second), cfg, app.Options{Logger: zerolog.Nop(), Now: clk.Now,
		Cycled: func(st poller.Stats, err error) {
			if err == nil && st.Failed == 0 {
				okCycles.Add(1)
			} else {
				failedCycles.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	run(t, a)
	testutil.EventuallyWithin(t, 30*time.Second, "a ping after good cycles", func() bool { return pings.Load() >= 2 })
	clk.Set(simStart.Add(25 * time.Second))
	testutil.EventuallyWithin(t, 30*time.Second, "2 failed cycles", func() bool { return failedCycles.Load() >= 2 })
	// A ping asked for by the last good cycle is done by now: it was
	// asked for before the first failed cycle started.
	during := pings.Load()
	seen := failedCycles.Load()
	testutil.EventuallyWithin(t, 30*time.Second, "4 more failed cycles", func() bool { return failedCycles.Load() >= seen+4 })
	if got := pings.Load(); got != during {
		t.Errorf("%d ping(s) during the API's 500s", got-during)
	}
	good := okCycles.Load()
	clk.Set(simStart.Add(45 * time.Second))
	testutil.EventuallyWithin(t, 30*time.Second, "pings again after the 500s", func() bool {
		return okCycles.Load() > good && pings.Load() > during
	})
}

// TestPingFailureLoggedOnce: under Run, a monitor that answers 404 and
// echoes the URL with its token: the failure is logged once over many
// cycles, its recovery once, and the token is in no log line of the
// watcher's.
func TestPingFailureLoggedOnce(t *testing.T) {
	var healthy atomic.Bool
	var failed, good atomic.Int64
	monitor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if healthy.Load() {
			good.Add(1)
			return
		}
		failed.Add(1)
		http.Error(w, "no such check: "+r.URL.String(), http.StatusNotFound)
	}))
	t.Cleanup(monitor.Close)
	cfg := beatWatcher(t, nil, "[]", func(c *config.Config) {
		c.Heartbeat.PingURL = secret.Secret(monitor.URL + "/ping/" + pingToken)
		c.Heartbeat.Every = time.Second
		c.Poll.Schedule = "@every 1s"
	})
	var logs testutil.SyncBuffer
	a, err := app.Start(testutil.Context(t, 20*time.Second), cfg, app.Options{Logger: zerolog.New(&logs).Level(zerolog.DebugLevel)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, a)
	testutil.EventuallyWithin(t, 30*time.Second, "3 failed pings", func() bool { return failed.Load() >= 3 })
	healthy.Store(true)
	testutil.EventuallyWithin(t, 30*time.Second, "2 good pings", func() bool { return good.Load() >= 2 })
	out := logs.String()
	if strings.Contains(out, pingToken) || strings.Contains(out, "/ping/") {
		t.Errorf("the logs hold the ping URL:\n%s", out)
	}
	if n := strings.Count(out, "heartbeat ping failed"); n != 1 {
		t.Errorf("the failure logged %d times over %d failed pings, want once:\n%s", n, failed.Load(), out)
	}
	if !strings.Contains(out, `"http_status":404`) {
		t.Errorf("the failure's line lacks the HTTP status:\n%s", out)
	}
	if n := strings.Count(out, "heartbeat ping recovered"); n != 1 {
		t.Errorf("the recovery logged %d times, want once:\n%s", n, out)
	}
}
