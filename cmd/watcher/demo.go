package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/broker"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/metrics"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/delivery"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/sim"
)

// Credentials of the demo's simulator: every request of the demo is signed
// and verified, as against the real API.
const (
	demoAK = "DEMOACCESSKEY0000000"
	demoSK = "demo-secret-key-not-a-real-one"
)

// cmdDemo runs the simulator on a scenario, the embedded NATS, the watcher
// polling every second and the Slack notifier with a console sink; it prints
// every event and Slack message and ends when the scenario is over and Slack
// has drained.
func cmdDemo(ctx context.Context, env cmdEnv, args []string) error {
	fs := newFlags("demo", env)
	scenario := fs.String("scenario", "", "scenario file (YAML); empty: the built-in demo")
	verbose := fs.Bool("v", false, "show the watcher's own logs on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sc, err := loadScenario(*scenario)
	if err != nil {
		return usageError{err}
	}
	out := &lockedWriter{w: env.stdout}

	srv := sim.New(sc, sim.Options{AK: demoAK, SK: demoSK})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: listen: %w", err)
	}
	simCtx, stopSim := context.WithCancel(context.WithoutCancel(ctx))
	simDone := make(chan error, 1)
	go func() { simDone <- srv.Serve(simCtx, ln) }()
	defer func() { stopSim(); <-simDone }()

	dir, err := os.MkdirTemp("", "watcher-demo-")
	if err != nil {
		return fmt.Errorf("demo: data dir: %w", err)
	}
	defer os.RemoveAll(dir)

	cfg := demoConfig(sc.ProjectID, "http://"+ln.Addr().String(), dir)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	log := zerolog.Nop()
	if *verbose {
		log = newLogger(config.LogConfig{Level: "info", Format: "console"}, env.stderr)
	}
	tally := newTally()
	m := metrics.New(nil)
	var goodCycle atomic.Int64 // when the last cycle that saw the API ended (unix ns)
	a, err := app.Start(ctx, cfg, app.Options{
		Logger:      log,
		SlackSender: &slackwire.ConsoleSender{W: out},
		Cycled: func(st poller.Stats, err error) {
			m.Cycled(st, err)
			if err == nil && !st.Skipped {
				goodCycle.Store(time.Now().UnixNano())
			}
		},
		DCSCalled: m.APICall,
		Published: func(e notify.Envelope) {
			m.Published(e)
			tally.add(e)
			fmt.Fprintf(out, "%s  NATS  %-19s %s\n", e.Time.Local().Format(time.TimeOnly), e.Data.Kind, eventLine(e.Data))
		},
	})
	if err != nil {
		return err
	}
	defer a.Stop()
	a.AttachMetrics(m)
	hs, err := startHTTP(cfg.HTTP, m, nil)
	if err != nil {
		return err
	}
	defer hs.Close()
	fmt.Fprintf(out, "DCS simulator  http://%s (signed requests, AK/SK checked)\n", ln.Addr())
	fmt.Fprintf(out, "Metrics        http://%s/metrics  (also /healthz, /readyz)\n", hs.Addr())
	// The listener wants the read-only user's password: reader.env hands
	// it to the nats CLI without putting it on a command line.
	fmt.Fprintf(out, "NATS           %s  (try: . %s && nats sub '%s.>')\n", a.Broker.ClientURL(),
		broker.ReaderEnvPath(dir), cfg.NATS.SubjectPrefix)
	fmt.Fprintf(out, "Scenario       %d task(s) over %s; polling every second\n\n", len(sc.Tasks), srv.Duration())

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = a.Run(runCtx) })
	err = waitDemo(ctx, srv, a.Slack, &goodCycle)
	stop()
	wg.Wait()

	calls := srv.Calls()
	st := a.Slack.Stats()
	fmt.Fprintf(out, "\nSummary: %s; Slack: %d sent, %d skipped, %d retried, %d failed; API: %d detail and %d list calls, %d faults injected\n",
		tally, st.Sent, st.Skipped, st.Retried, st.Failed, calls.Detail, calls.List, calls.Faults)
	return err
}

func demoConfig(project, endpoint, dir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.DCS.Endpoint = endpoint
	cfg.DCS.ProjectID = project
	cfg.DCS.AK, cfg.DCS.SK = demoAK, demoSK
	cfg.DCS.Timeout = 2 * time.Second
	cfg.Poll.Schedule = "@every 1s"
	cfg.NATS.Listen = "127.0.0.1:0"
	cfg.Slack.Enabled = false // the console sink stands in for the webhook
	// The demo's outage lasts seconds: show it rather than hold it back.
	cfg.Slack.DegradedFor = 0
	// The scenario's full sync holds at 63% for 9 s: a stall, in demo time.
	cfg.Attention.StallAfter = 3 * time.Second
	// The operational endpoints are on in the demo, on a free loopback port.
	cfg.HTTP.Listen = "127.0.0.1:0"
	return cfg
}

// waitDemo returns when the scenario is over (plus two polls), a cycle
// that saw the API has ended since (a scenario that ends with a fault,
// such as a 401 that pauses polling for 30 s, is over only when its last
// state is seen) and every Slack message is out; or after a minute at most.
func waitDemo(ctx context.Context, srv *sim.Server, n *delivery.Notifier, goodCycle *atomic.Int64) error {
	end := srv.Start().Add(srv.Duration() + 2500*time.Millisecond)
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return errors.New("interrupted")
		case <-deadline.C:
			return errors.New("the demo did not finish within a minute")
		case now := <-tick.C:
			if now.Before(end) || goodCycle.Load() < end.UnixNano() {
				continue
			}
			if p, err := n.Pending(ctx); err == nil && p == 0 {
				return nil
			}
		}
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// tally counts events by kind.
type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func newTally() *tally { return &tally{n: map[string]int{}} }

func (t *tally) add(e notify.Envelope) {
	t.mu.Lock()
	t.n[string(e.Data.Kind)]++
	t.mu.Unlock()
}

func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	kinds := make([]string, 0, len(t.n))
	total := 0
	for k, c := range t.n {
		kinds = append(kinds, fmt.Sprintf("%d %s", c, k))
		total += c
	}
	sort.Strings(kinds)
	return fmt.Sprintf("%d events (%s)", total, strings.Join(kinds, ", "))
}
