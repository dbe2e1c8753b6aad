package poller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/state"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

const (
	testAK     = "POLLERTESTAK00000001"
	testSK     = "poller-test-sk-0000000001"
	project    = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	prefix     = "dcs.migration"
	streamName = "DCS_MIGRATION"
	bucket     = "DCS_WATCHER_SNAPSHOTS"
)

// env is one simulated DCS API and one embedded JetStream server, shared by
// the watchers of a test.
type env struct {
	t        *testing.T
	ctx      context.Context
	t0       time.Time
	clk      *testutil.Clock
	sim      *sim.Server
	api      *httptest.Server
	url      string // nats client URL
	js       jetstream.JetStream
	nats     *server.Server // the NATS server, replaced by restartNATS
	natsDir  string
	natsPort int
	// limiter, when set, paces the DCS client of each watcher started
	// after, as dcs.rate_limit does.
	limiter *rate.Limiter
	// withClient, when set, may give each watcher started after its DCS
	// client for the poller options beyond Fetcher (Stats, Logs).
	withClient func(c *dcs.Client, o *poller.Options)
	// stats, when set, makes each watcher started after make the stats
	// calls with its DCS client (Options.Stats).
	stats bool
}

// newEnv serves scenario (YAML) through wrap, when not nil, and starts
// JetStream with the events stream.
func newEnv(t *testing.T, scenario string, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	sc, err := sim.ParseScenario([]byte(scenario))
	if err != nil {
		t.Fatalf("scenario: %v", err)
	}
	return newEnvWith(t, sc, wrap)
}

// newEnvWith is newEnv with a scenario built in Go (sim.Fleet).
func newEnvWith(t *testing.T, sc *sim.Scenario, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	e := &env{t: t, ctx: t.Context(), t0: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	e.clk = testutil.NewClock(e.t0)
	e.sim = sim.New(sc, sim.Options{AK: testAK, SK: testSK, Clock: e.clk.Now, Start: e.t0})
	var h http.Handler = e.sim
	if wrap != nil {
		h = wrap(e.sim)
	}
	e.api = httptest.NewServer(h)
	t.Cleanup(e.api.Close)

	e.natsDir = t.TempDir()
	e.nats = testutil.RunJetStream(t, -1, e.natsDir)
	e.natsPort = e.nats.Addr().(*net.TCPAddr).Port
	e.url = e.nats.ClientURL()
	e.js = e.connect()
	if _, err := notify.EnsureStream(e.ctx, e.js, notify.StreamOptions{
		Name: streamName, Prefix: prefix, Duplicates: time.Hour,
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

// connect opens a connection of its own, as a separate replica would.
func (e *env) connect() jetstream.JetStream {
	_, js := e.connectConn()
	return js
}

// connectConn is connect with the connection, which reconnects quickly
// after restartNATS.
func (e *env) connectConn() (*nats.Conn, jetstream.JetStream) {
	e.t.Helper()
	nc, err := nats.Connect(e.url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		e.t.Fatalf("connect: %v", err)
	}
	e.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		e.t.Fatal(err)
	}
	return nc, js
}

// externalNATS gives the test the server, to stop, and a restart on the
// same port and store that waits until the env's connection is back.
func (e *env) externalNATS() (srv func() *server.Server, restart func()) {
	return func() *server.Server { return e.nats }, func() {
		e.nats = testutil.RunJetStream(e.t, e.natsPort, e.natsDir)
		testutil.Eventually(e.t, "NATS back", func() bool {
			_, err := e.js.AccountInfo(e.ctx)
			return err == nil
		})
	}
}

// withScenario is a second simulated API over the same NATS (a change of
// the API's mind the scenario language cannot say).
func (e *env) withScenario(scenario string) *env {
	e.t.Helper()
	sc, err := sim.ParseScenario([]byte(scenario))
	if err != nil {
		e.t.Fatalf("scenario: %v", err)
	}
	e2 := *e
	e2.sim = sim.New(sc, sim.Options{AK: testAK, SK: testSK, Clock: e.clk.Now, Start: e.t0})
	e2.api = httptest.NewServer(e2.sim)
	e.t.Cleanup(e2.api.Close)
	return &e2
}

// watcher is one watcher process: its own NATS connection, snapshot store,
// publisher, DCS client and poller, the clock shared.
type watcher struct {
	e     *env
	p     *poller.Poller
	snaps *state.Snapshots
	logs  *testutil.SyncBuffer
	nc    *nats.Conn

	mu     sync.Mutex
	events []notify.Envelope
}

// newWatcher starts a watcher; o's ProjectID (when empty), Now, Logger and
// Published are filled in.
func (e *env) newWatcher(o poller.Options) *watcher {
	e.t.Helper()
	return e.newWatcherWith(o, nil)
}

// newWatcherWith is newWatcher with the publisher wrapped by wrap.
func (e *env) newWatcherWith(o poller.Options, wrap func(poller.Publisher) poller.Publisher) *watcher {
	e.t.Helper()
	w := &watcher{e: e, logs: &testutil.SyncBuffer{}}
	nc, js := e.connectConn()
	w.nc = nc
	snaps, err := state.Open(e.ctx, js, state.BucketOptions{Bucket: bucket})
	if err != nil {
		e.t.Fatal(err)
	}
	w.snaps = snaps
	if o.ProjectID == "" {
		o.ProjectID = project
	}
	client, err := dcs.New(dcs.Options{
		Endpoint:    e.api.URL,
		ProjectID:   o.ProjectID,
		Credentials: dcs.Credentials{AK: secret.Secret(testAK), SK: secret.Secret(testSK)},
		HTTPClient:  &http.Client{Timeout: 5 * time.Second},
		Now:         e.clk.Now,
		Limiter:     e.limiter,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if e.withClient != nil {
		e.withClient(client, &o)
	}
	o.Now = e.clk.Now
	if e.stats {
		o.Stats = client
	}
	o.Logger = zerolog.New(w.logs).Level(zerolog.DebugLevel)
	o.Published = func(env notify.Envelope) {
		w.mu.Lock()
		w.events = append(w.events, env)
		w.mu.Unlock()
	}
	var pub poller.Publisher = notify.NewPublisher(js, notify.PublisherOptions{Stream: streamName, Prefix: prefix})
	if wrap != nil {
		pub = wrap(pub)
	}
	w.p = poller.New(client, pub, snaps, o)
	e.t.Cleanup(func() {
		if e.t.Failed() {
			e.t.Logf("watcher logs:\n%s", w.logs.String())
		}
	})
	return w
}

// at sets the shared clock to t0+d.
func (e *env) at(d time.Duration) { e.clk.Set(e.t0.Add(d)) }

// cycle runs one cycle at the current clock.
func (w *watcher) cycle() (poller.Stats, error) {
	ctx, cancel := context.WithTimeout(w.e.ctx, 5*time.Second)
	defer cancel()
	return w.p.Cycle(ctx)
}

// cycleAt sets the clock to t0+d and runs one cycle.
func (w *watcher) cycleAt(d time.Duration) (poller.Stats, error) {
	w.e.at(d)
	return w.cycle()
}

// snapshotEvents returns the events published so far, without taking them.
func (w *watcher) snapshotEvents() []notify.Envelope {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]notify.Envelope(nil), w.events...)
}

// take returns the events published since the last take.
func (w *watcher) take() []notify.Envelope {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.events
	w.events = nil
	return out
}

// warnings returns the warn-or-worse log lines that name taskID.
func (w *watcher) warnings(taskID string) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(w.logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if lvl := m["level"]; (lvl == "warn" || lvl == "error") && m["task_id"] == taskID {
			out = append(out, line)
		}
	}
	return out
}

// count is how many messages the stream holds on subjects matching filter.
func (e *env) count(filter string) uint64 {
	e.t.Helper()
	s, err := e.js.Stream(e.ctx, streamName)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(e.ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		e.t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// filter is the subject filter of one task's events of one kind; task ""
// is the API itself.
func filter(task, kind string) string {
	if task == "" {
		task = notify.NoTask
	}
	return prefix + "." + project + "." + task + "." + kind + ".>"
}

// calls is the number of API calls the simulator has answered.
func (e *env) calls() int64 {
	c := e.sim.Calls()
	return c.Detail + c.List
}

// summary names each event "task:kind" (task "_api" for the API), in order.
func summary(envs []notify.Envelope) []string {
	out := make([]string, len(envs))
	for i, env := range envs {
		task := env.Data.TaskID
		if task == "" {
			task = notify.NoTask
		}
		out[i] = task + ":" + string(env.Data.Kind)
	}
	return out
}

func countKind(envs []notify.Envelope, kind string) int {
	n := 0
	for _, env := range envs {
		if string(env.Data.Kind) == kind {
			n++
		}
	}
	return n
}

// taskID is the id of the i-th task of fleet.
func taskID(i int) string { return fmt.Sprintf("task-%04d", i) }

// fleet is a scenario of n online migrations in RUNNING from the start,
// followed by the YAML of extra (more tasks, then a faults section).
func fleet(n int, faults string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "project_id: %s\ntasks:\n", project)
	for i := range n {
		fmt.Fprintf(&b, "  - id: %s\n    name: move-%d\n    migration_type: online_migration\n    steps:\n      - {at: 0s, status: RUNNING}\n", taskID(i), i)
	}
	if faults != "" {
		b.WriteString("faults:\n" + faults)
	}
	return b.String()
}

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = taskID(i)
	}
	return out
}
