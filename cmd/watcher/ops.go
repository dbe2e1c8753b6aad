package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/httpserver"
	"github.com/dcs-watcher/watcher/internal/metrics"
	slacknotify "github.com/dcs-watcher/watcher/internal/notify/slack"
)

// cmdRun polls until SIGINT/SIGTERM. SIGHUP reloads the config file: a bad
// one is refused (one error log line) and the running watcher kept; a good
// one stops the watcher and starts it again with the new config, in the
// same process. The HTTP server (http.*) and the metrics outlive reloads:
// counters keep counting, and http.* changes need a restart.
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
	log := newLogger(cfg.Log, env.stderr)
	m := metrics.New(nil)
	if cfg.HTTP.Listen != "" {
		srv, err := startHTTP(cfg.HTTP, m)
		if err != nil {
			return err
		}
		defer srv.Close()
		log.Info().Str("addr", srv.Addr()).Msg("serving /metrics, /healthz, /readyz")
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var prev *config.Config // the config that ran before a reload
	for {
		a, err := startWatched(ctx, cfg, log, env, m)
		if err != nil && prev != nil {
			// The new config is valid but does not start (a port taken,
			// NATS unreachable): go back to the one that ran.
			log.Error().Err(err).Msg("reloaded config failed to start: going back to the previous one")
			cfg, prev = *prev, nil
			log = newLogger(cfg.Log, env.stderr)
			continue
		}
		if err != nil {
			return err
		}
		next, err := runUntilReload(ctx, a, *path, env, log, hup)
		if next == nil {
			log.Info().Msg("watcher stopped")
			return err
		}
		prev, cfg = &cfg, *next
		log = newLogger(cfg.Log, env.stderr)
		log.Info().Msg("config reloaded: watcher restarted with it")
	}
}

// startWatched starts the app with the metrics hooked in and attached.
func startWatched(ctx context.Context, cfg config.Config, log zerolog.Logger, env cmdEnv, m *metrics.Metrics) (*app.App, error) {
	a, err := app.Start(ctx, cfg, app.Options{Logger: log, Getenv: env.getenv,
		Published: m.Published, Cycled: m.Cycled, DCSCalled: m.APICall})
	if err != nil {
		return nil, err
	}
	attachMetrics(m, a)
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

// startHTTP serves the operational endpoints of m.
func startHTTP(c config.HTTPConfig, m *metrics.Metrics) (*httpserver.Server, error) {
	return httpserver.Start(c.Listen, httpserver.Handler(httpserver.Options{
		Registry: m.Registry, Ready: m.Ready, Live: m.Live, PProf: c.PProf,
	}))
}

// attachMetrics points m at a's snapshots, Slack notifier and NATS
// connection, and at its schedule.
func attachMetrics(m *metrics.Metrics, a *app.App) {
	s := metrics.Sources{
		Statuses: func() []dcs.Status {
			var out []dcs.Status
			for i, p := range a.Projects {
				if !a.Leads(i) {
					continue // another replica polls it: its snapshots here are not kept current
				}
				for _, e := range a.Snaps.Tasks(p.ProjectID) {
					if !e.Removed {
						out = append(out, dcs.Normalize(e.Task.Status))
					}
				}
			}
			return out
		},
		NATSConnected: a.Broker.Conn.IsConnected,
	}
	if a.Broker.Embedded() {
		s.Store, s.StoreStuck = a.Broker.StoreErr, a.Broker.StoreStuck
	}
	if a.Leases != nil {
		s.Leases = a.LeaseCounts
	}
	if a.Slack != nil {
		slack := a.Slack
		s.Slack = func() slacknotify.Stats { return slack.Stats() }
	}
	m.Attach(s)
	_ = m.SetSchedule(a.Config.Poll.Schedule) // validated with the config
}

// cmdVersion prints the module version, the VCS commit and time the binary
// was built from, and the Go version.
func cmdVersion(env cmdEnv, args []string) error {
	fs := newFlags("version", env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return errors.New("no build information in this binary")
	}
	rev, when, modified := "unknown", "unknown", ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	fmt.Fprintf(env.stdout, "watcher %s\ncommit %s%s, %s\n%s\n", bi.Main.Version, rev, modified, when, bi.GoVersion)
	return nil
}

// cmdHealth asks a running watcher's /healthz: exit 0 when it answers 200.
// It is the container image's health check, which has no shell nor curl.
func cmdHealth(ctx context.Context, env cmdEnv, args []string) error {
	fs := newFlags("health", env)
	path := fs.String("c", "watcher.yaml", "configuration file (its http.listen)")
	addr := fs.String("addr", "", "host:port of the watcher's HTTP server (default: http.listen of the config)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	target := *addr
	if target == "" {
		cfg, err := config.LoadSections(*path, env.getenv, config.SectionHTTP)
		if err != nil {
			return usageError{err}
		}
		if cfg.HTTP.Listen == "" {
			return usageError{errors.New("http.listen: not set, so there is no /healthz to ask (or give --addr)")}
		}
		target = cfg.HTTP.Listen
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return usageError{fmt.Errorf("address %q: %w", target, err)}
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1" // listening on every address: ask the loopback one
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered HTTP %d", url, resp.StatusCode)
	}
	fmt.Fprintln(env.stdout, "healthy")
	return nil
}
