package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/lease"
	"github.com/dcs-watcher/watcher/internal/memlimit"
	"github.com/dcs-watcher/watcher/internal/metrics"
	"github.com/dcs-watcher/watcher/internal/statuspage"
)

// Start retries: the first after startRetryMin, doubling up to
// startRetryMax, so that a NATS that comes up a few seconds late is found
// within seconds and one that stays away costs two log lines a minute.
const (
	startRetryMin = time.Second
	startRetryMax = 30 * time.Second
)

// cmdRun polls until SIGINT/SIGTERM. A watcher that cannot start (NATS not
// listening yet, a stream that a fresh cluster cannot create yet) tries
// again with backoff, one log line per attempt, not ready meanwhile; only
// a bad config file ends it. SIGHUP reloads the config file: a bad one is
// refused (one error log line) and the running watcher kept; a good one
// stops the watcher and starts it again with the new config, in the same
// process, and if that does not start it goes back to the previous one.
// The HTTP server (http.*) and the metrics outlive reloads: counters keep
// counting, and http.* changes need a restart.
func cmdRun(ctx context.Context, env cmdEnv, args []string) error {
	fs := newFlags("run", env)
	path := fs.String("c", "watcher.yaml", "configuration file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, env.getenv)
	if err != nil {
		return usageError{err}
	}
	r := &runner{env: env, path: *path, m: metrics.New(nil), log: newLogger(cfg.Log, env.stderr), replica: lease.NewIdentity()}
	r.fleet = setMemoryLimit(cfg, env, r.log)
	if cfg.HTTP.Listen != "" {
		if cfg.HTTP.StatusPage {
			r.page = statuspage.NewPage()
		}
		srv, err := startHTTP(cfg.HTTP, r.m, r.page)
		if err != nil {
			return err
		}
		defer srv.Close()
		r.log.Info().Str("addr", srv.Addr()).Bool("status_page", r.page != nil).
			Bool("basic_auth", cfg.HTTP.BasicAuthUsersFile != "").Bool("tls", cfg.HTTP.TLSCertFile != "").
			Msg("serving /metrics, /healthz, /readyz")
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	r.hup = hup
	return r.loop(ctx, cfg)
}

// runner is cmdRun's watcher: the config file, the process's metrics and
// its SIGHUPs, and the logger of the config in force.
type runner struct {
	env  cmdEnv
	path string
	m    *metrics.Metrics
	hup  <-chan os.Signal
	log  zerolog.Logger
	// page is the status page on the HTTP listener (http.status_page),
	// handed each started watcher's model; nil when off.
	page *statuspage.Page
	// fleet sizes the soft memory limit to the tasks listed (auto, no
	// container limit); nil otherwise. It outlives reloads, as the limit
	// does.
	fleet *memlimit.Fleet
	// replica is this process's name in the lease bucket, the same for
	// every watcher it starts: after a reload the new one takes over the
	// leases its predecessor left (a reload cut short while it took one)
	// at once instead of waiting out their TTL.
	replica string
}

// loop starts the watcher and runs it, again after each reload, until ctx
// ends.
func (r *runner) loop(ctx context.Context, cfg config.Config) error {
	var good *config.Config // the config that ran last: a reload that cannot start goes back to it
	for {
		a, ran, err := r.start(ctx, cfg, good)
		if err != nil {
			r.log.Info().Msg("watcher stopped before it started")
			return nil // told to stop: not a failure
		}
		cfg, good = ran, &ran
		next, err := runUntilReload(ctx, a, r.path, r.env, r.log, r.hup)
		if next == nil {
			r.log.Info().Msg("watcher stopped")
			return err
		}
		cfg = *next
		r.log = newLogger(cfg.Log, r.env.stderr)
	}
}

// start starts the watcher on cfg and returns it with the config it runs.
// good is the config that ran before cfg (a reload; nil at process start):
// if cfg does not start, the watcher goes back to good at once. Whatever
// it ends up starting (good, or cfg at process start) it tries again with
// backoff until it starts, never giving up: a SIGHUP meanwhile brings a new
// config to try. It returns an error only when ctx ends.
func (r *runner) start(ctx context.Context, cfg config.Config, good *config.Config) (*app.App, config.Config, error) {
	fallback, back := good, false
	wait := startRetryMin
	for attempt := 1; ; attempt++ {
		a, err := r.startWatched(ctx, cfg)
		if err == nil {
			switch {
			case back:
				r.log.Warn().Msg("reload failed: the watcher runs the previous config again")
			case good != nil:
				r.log.Info().Msg("config reloaded: watcher restarted with it")
			}
			return a, cfg, nil
		}
		if ctx.Err() != nil {
			return nil, cfg, ctx.Err()
		}
		r.m.NotStarted(err)
		if fallback != nil {
			r.log.Error().Err(err).Str("config", r.path).
				Msg("reload failed: the new config does not start; going back to the previous one")
			cfg, fallback, back = *fallback, nil, true
			r.log = newLogger(cfg.Log, r.env.stderr)
			attempt, wait = 0, startRetryMin
			continue
		}
		r.log.Error().Err(err).Int("attempt", attempt).Dur("retry_in", wait).
			Msg("watcher not started: setting up again after a pause (not ready meanwhile)")
		select {
		case <-ctx.Done():
			return nil, cfg, ctx.Err()
		case <-time.After(wait):
			wait = min(2*wait, startRetryMax)
		case <-r.hup:
			next, err := config.Load(r.path, r.env.getenv)
			if err != nil {
				r.log.Error().Err(err).Str("config", r.path).Msg("reload refused: the config has errors; still trying the one before")
				continue
			}
			r.log.Info().Str("config", r.path).Msg("reloading: trying the new config")
			cfg, fallback, back = next, good, false
			r.log = newLogger(cfg.Log, r.env.stderr)
			attempt, wait = 0, startRetryMin
		}
	}
}

// startWatched starts the app with the metrics hooked in and attached.
func (r *runner) startWatched(ctx context.Context, cfg config.Config) (*app.App, error) {
	log, m := r.log, r.m
	a, err := app.Start(ctx, cfg, app.Options{Logger: log, Getenv: r.env.getenv, Replica: r.replica,
		Published: m.Published, Cycled: m.Cycled, DCSCalled: m.APICall, StatusPage: r.page, Fleet: r.fleet})
	if err != nil {
		return nil, err
	}
	a.AttachMetrics(m)
	ids := make([]string, len(a.Projects))
	for i, p := range a.Projects {
		ids[i] = p.ProjectID
	}
	log.Info().Str("schedule", cfg.Poll.Schedule).Str("nats", a.Broker.ClientURL()).
		Strs("project_ids", ids).Msg("watcher running")
	return a, nil
}

// runUntilReload runs a until ctx ends (nil config) or a SIGHUP brings a
// valid config (returned, a stopped). A config with errors is refused and
// a keeps running.
func runUntilReload(ctx context.Context, a *app.App, path string, env cmdEnv, log zerolog.Logger, hup <-chan os.Signal) (*config.Config, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	for {
		select {
		case err := <-done:
			a.Stop()
			return nil, err
		case <-hup:
			cfg, err := config.Load(path, env.getenv)
			if err != nil {
				// Config errors name keys and lines, never a secret's value.
				log.Error().Err(err).Str("config", path).Msg("reload refused: the config has errors; the running one is kept")
				continue
			}
			log.Info().Str("config", path).Msg("reloading: stopping the watcher to start it with the new config")
			cancel()
			<-done
			a.Stop()
			return &cfg, nil
		}
	}
}
