package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"sync"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/sim"
)

func newFlags(name string, env cmdEnv) *flag.FlagSet {
	fs := flag.NewFlagSet("watcher "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usageError{errors.New("help requested")}
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}
	return nil
}

func loadConfig(env cmdEnv, fs *flag.FlagSet, args []string) (config.Config, error) {
	path := fs.String("c", "watcher.yaml", "configuration file")
	if err := parseFlags(fs, args); err != nil {
		return config.Config{}, err
	}
	cfg, err := config.Load(*path, env.getenv)
	if err != nil {
		return config.Config{}, usageError{err}
	}
	return cfg, nil
}

func cmdValidate(env cmdEnv, args []string) error {
	cfg, err := loadConfig(env, newFlags("validate", env), args)
	if err != nil {
		return err
	}
	what := "every task the list call returns"
	if !cfg.Poll.Discover {
		what = fmt.Sprintf("%d configured task(s)", len(cfg.Poll.TaskIDs))
	} else if len(cfg.Poll.TaskIDs) > 0 {
		what += fmt.Sprintf(" and %d configured task(s)", len(cfg.Poll.TaskIDs))
	}
	nats := "embedded nats-server on " + cfg.NATS.Listen
	if cfg.NATS.URL != "" {
		nats = "external NATS"
	}
	slack := "off"
	if cfg.Slack.Enabled {
		slack = "webhook"
	}
	fmt.Fprintf(env.stdout, "config ok: project %s, schedule %q, watching %s, %s, slack %s\n",
		cfg.DCS.ProjectID, cfg.Poll.Schedule, what, nats, slack)
	return nil
}

func cmdRun(ctx context.Context, env cmdEnv, args []string) error {
	cfg, err := loadConfig(env, newFlags("run", env), args)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, env.stderr)
	a, err := start(ctx, cfg, log, appOptions{getenv: env.getenv})
	if err != nil {
		return err
	}
	defer a.close()
	log.Info().Str("schedule", cfg.Poll.Schedule).Str("nats", a.broker.ClientURL()).
		Str("project_id", cfg.DCS.ProjectID).Msg("watcher running")
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() { errs <- a.poller.Run(ctx, cfg.Poll.Schedule) })
	if a.slack != nil {
		wg.Go(func() { errs <- a.slack.Run(ctx) })
	}
	wg.Wait()
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	log.Info().Msg("watcher stopped")
	return errors.Join(all...)
}

func cmdOnce(ctx context.Context, env cmdEnv, args []string) error {
	cfg, err := loadConfig(env, newFlags("once", env), args)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, env.stderr)
	out := json.NewEncoder(env.stdout)
	a, err := start(ctx, cfg, log, appOptions{
		getenv:    env.getenv,
		noSlack:   true, // a durable consumer delivers to Slack; once only publishes
		published: func(e notify.Envelope) { _ = out.Encode(e) },
	})
	if err != nil {
		return err
	}
	defer a.close()
	_, err = a.poller.Cycle(ctx)
	return err
}

func cmdSimulate(ctx context.Context, env cmdEnv, args []string) error {
	fs := newFlags("simulate", env)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the DCS API on")
	scenario := fs.String("scenario", "", "scenario file (YAML); empty: the built-in demo scenario")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sc, err := loadScenario(*scenario)
	if err != nil {
		return usageError{err}
	}
	// Signature checks use the same variables as the watcher, so a watcher
	// and a simulator started from one shell agree.
	srv := sim.New(sc, sim.Options{AK: env.getenv("HUAWEICLOUD_SDK_AK"), SK: env.getenv("HUAWEICLOUD_SDK_SK")})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	fmt.Fprintf(env.stdout, "DCS simulator: http://%s  project %s  %d task(s), scenario lasts %s\n",
		ln.Addr(), sc.ProjectID, len(sc.Tasks), srv.Duration())
	return srv.Serve(ctx, ln)
}
