package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/dcs-watcher/watcher/configs"
	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/sim"
)

func newFlags(name string, env cmdEnv) *flag.FlagSet {
	fs := flag.NewFlagSet("watcher "+name, flag.ContinueOnError)
	// -h prints the help to stdout (parseFlags); a bad flag gets its error
	// and the flags on stderr.
	fs.SetOutput(flagOutput{Writer: env.stderr, help: env.stdout})
	fs.Usage = func() {}
	return fs
}

// flagOutput is a flag set's output: errors to stderr, asked-for help to
// stdout.
type flagOutput struct {
	io.Writer
	help io.Writer
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			w := fs.Output()
			if fo, ok := w.(flagOutput); ok {
				w = fo.help
			}
			printHelp(w, fs)
			return errHelp
		}
		fs.PrintDefaults()
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}
	return nil
}

// loadConfig parses the flags with -c and loads the config file: the whole
// of it checked, or with sections, only the log and those (tail and
// notify-test need no DCS credentials).
func loadConfig(env cmdEnv, fs *flag.FlagSet, args []string, sections ...config.Section) (config.Config, error) {
	path := fs.String("c", "watcher.yaml", "configuration file")
	if err := parseFlags(fs, args); err != nil {
		return config.Config{}, err
	}
	var cfg config.Config
	var err error
	if len(sections) > 0 {
		cfg, err = config.LoadSections(*path, env.getenv, sections...)
	} else {
		cfg, err = config.Load(*path, env.getenv)
	}
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
	nats := "embedded nats-server on " + cfg.NATS.Listen
	if cfg.NATS.URL != "" {
		nats = "external NATS"
	}
	slack := app.SlackMode(cfg)
	projects := cfg.Projects()
	if len(cfg.DCS.Projects) == 0 {
		fmt.Fprintf(env.stdout, "config ok: project %s, schedule %q, watching %s, %s, slack %s\n",
			projectOf(projects[0]), cfg.Poll.Schedule, watching(projects[0]), nats, slack)
		fmt.Fprintln(env.stdout, heartbeatLine(cfg.Heartbeat, cfg.NATS.SubjectPrefix))
		return nil
	}
	fmt.Fprintf(env.stdout, "config ok: %d projects, schedule %q, %s, slack %s, account rate limit %v/s\n",
		len(projects), cfg.Poll.Schedule, nats, slack, cfg.DCS.RateLimit)
	for _, p := range projects {
		where := "region " + p.Region
		if p.Endpoint != "" {
			where += " via " + p.Endpoint
		}
		rate := "no cap of its own"
		if p.RateLimit > 0 {
			rate = fmt.Sprintf("at most %v calls/s", p.RateLimit)
		}
		fmt.Fprintf(env.stdout, "  %s: project %s, %s, watching %s, %s\n", p.Name, projectOf(p), where, watching(p), rate)
	}
	fmt.Fprintln(env.stdout, heartbeatLine(cfg.Heartbeat, cfg.NATS.SubjectPrefix))
	return nil
}

// heartbeatLine is validate's line on the heartbeat: its cadence and
// whether it pings (never the URL, a secret).
func heartbeatLine(h config.HeartbeatConfig, prefix string) string {
	line := "heartbeat: off"
	if h.Every > 0 {
		line = fmt.Sprintf("heartbeat: every %s on %s.%s.%s", h.Every, prefix, event.WatcherProject, event.Heartbeat)
	}
	if h.PingURL == "" {
		return line + ", no ping"
	}
	return fmt.Sprintf("%s, ping %s after each successful cycle (timeout %s)", line, h.PingURL, h.PingTimeout)
}

// projectOf is a project's id, or where it will come from.
func projectOf(p config.Project) string {
	if p.ProjectID == "" {
		return fmt.Sprintf("looked up in IAM at start (region %s)", p.Region)
	}
	return p.ProjectID
}

// watching says which tasks of a project are watched.
func watching(p config.Project) string {
	what := "every task the list call returns"
	if p.NameFilter != "" {
		what = fmt.Sprintf("every task the list call returns for name %q", p.NameFilter)
	}
	if !p.Discover {
		what = fmt.Sprintf("%d configured task(s)", len(p.TaskIDs))
	} else if len(p.TaskIDs) > 0 {
		what += fmt.Sprintf(" and %d configured task(s)", len(p.TaskIDs))
	}
	return what
}

func cmdOnce(ctx context.Context, env cmdEnv, args []string) error {
	cfg, err := loadConfig(env, newFlags("once", env), args)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, env.stderr)
	fleet := setMemoryLimit(cfg, env, log)
	out := json.NewEncoder(env.stdout)
	a, err := app.Start(ctx, cfg, app.Options{
		Logger:    log,
		Fleet:     fleet,
		Getenv:    env.getenv,
		NoSlack:   true, // a durable consumer delivers to Slack; once only publishes
		Published: func(e notify.Envelope) { _ = out.Encode(e) },
	})
	if err != nil {
		return err
	}
	defer a.Stop()
	start := time.Now()
	stats, err := a.Cycle(ctx)
	fmt.Fprintln(env.stderr, onceSummary(stats, time.Since(start), cfg.DCS.RateLimit))
	if err == nil {
		// Only after a cycle that saw everything (heartbeat.ping_url); a
		// failed ping is logged, and the cycle's outcome decides the exit.
		_ = a.Ping(ctx)
	}
	return err
}

// onceSummary is once's last line on stderr: what the cycle did, and the
// call budget that paces it. once keeps to dcs.rate_limit as run does: the
// API throttles per account, and a once beside other users of the account
// must not take their share.
func onceSummary(stats []poller.Stats, took time.Duration, limit float64) string {
	var sum poller.Stats
	for _, st := range stats {
		sum.Add(st)
	}
	calls := sum.Fetched + sum.Failed + sum.StatsCalls + sum.StatsFailed + sum.Logs
	line := fmt.Sprintf("once: %d task(s), %d event(s) published, %d detail, %d stats and %d log call(s) (%d failed), took %s",
		sum.Tasks, sum.Events, sum.Fetched+sum.Failed, sum.StatsCalls+sum.StatsFailed, sum.Logs, sum.Failed+sum.StatsFailed, took.Round(100*time.Millisecond))
	if limit > 0 && float64(calls)/limit >= 2 {
		line += fmt.Sprintf("; paced by dcs.rate_limit %g calls/s (the account's budget, shared with any running watcher): %d calls take about %s", limit, calls,
			time.Duration(float64(calls)/limit*float64(time.Second)).Round(time.Second))
	}
	return line
}

func cmdSimulate(ctx context.Context, env cmdEnv, args []string) error {
	fs := newFlags("simulate", env)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the DCS API on")
	scenario := fs.String("scenario", "", "scenario file (YAML); empty: the built-in demo scenario")
	ff := addFleetFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sc, start, fleet, err := ff.scenario(fs, *scenario)
	if err != nil {
		return usageError{err}
	}
	// Signature checks use the same variables as the watcher, so a watcher
	// and a simulator started from one shell agree.
	srv := sim.New(sc, sim.Options{AK: env.getenv("HUAWEICLOUD_SDK_AK"), SK: env.getenv("HUAWEICLOUD_SDK_SK"), Start: start})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	// The bench reads this first line for the address: keep its shape.
	plan := "scenario lasts " + srv.Duration().Round(100*time.Millisecond).String()
	if fleet != nil {
		plan = fleetPlan(*fleet)
	}
	fmt.Fprintf(env.stdout, "DCS simulator: http://%s  project %s  %d task(s), %s\n", ln.Addr(), sc.ProjectID, len(sc.Tasks), plan)
	return srv.Serve(ctx, ln)
}

// fleetPlan says what a generated fleet does, in the flags' terms (its
// last change comes at a random time, not worth printing to the ns).
func fleetPlan(o sim.FleetOptions) string {
	var parts []string
	if o.ChangeRate > 0 {
		parts = append(parts, fmt.Sprintf("%g change(s)/s from %s for %s", o.ChangeRate, o.ChangeFrom, o.ChangeTo-o.ChangeFrom))
	}
	if o.BurstTasks > 0 {
		parts = append(parts, fmt.Sprintf("a burst of %d at %s", o.BurstTasks, o.BurstAt))
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}

// fleetFlags are simulate's flags that serve a generated fleet
// (sim.Fleet) instead of a scenario file.
type fleetFlags struct {
	tasks               *int
	rate                rateFlag
	from, span, burstAt *time.Duration
	burst               *int
	burstStatus         *string
	seed                *uint64
	start               *string
}

func addFleetFlags(fs *flag.FlagSet) *fleetFlags {
	ff := &fleetFlags{
		tasks:       fs.Int("fleet", 0, "serve a generated fleet of N active tasks instead of a scenario"),
		from:        fs.Duration("change-from", 0, "fleet: changes start at this offset from the start"),
		span:        fs.Duration("change-for", defaultChangeFor, "fleet: changes go on for this long (with --change-rate)"),
		burst:       fs.Int("burst", 0, "fleet: K tasks change status at the same instant"),
		burstAt:     fs.Duration("burst-at", 0, "fleet: offset of the burst"),
		burstStatus: fs.String("burst-status", "", "fleet: the status every task of the burst changes to (default: each its own next one)"),
		seed:        fs.Uint64("seed", 1, "fleet: seed of ids, names and the change plan"),
		start:       fs.String("start", "", "the scenario's time zero, RFC 3339 with fractions (default: now)"),
	}
	fs.Var(&ff.rate, "change-rate", "fleet: status changes per second, e.g. 5 or 5/s, at random times on random tasks")
	return ff
}

// defaultChangeFor is how long a fleet's changes go on when --change-rate
// comes without --change-for: the quick start's hour.
const defaultChangeFor = time.Hour

// scenario returns what to serve, its time zero (zero: now) and, for a
// generated fleet, its options. Fleet flags without --fleet, or with
// --scenario, are usage errors: they would otherwise be silently ignored.
func (ff *fleetFlags) scenario(fs *flag.FlagSet, file string) (*sim.Scenario, time.Time, *sim.FleetOptions, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var start time.Time
	if set["start"] {
		t, err := time.Parse(time.RFC3339Nano, *ff.start)
		if err != nil {
			return nil, time.Time{}, nil, fmt.Errorf("--start: %w", err)
		}
		start = t
	}
	if !set["fleet"] {
		for _, name := range []string{"change-rate", "change-from", "change-for", "burst", "burst-at", "burst-status", "seed"} {
			if set[name] {
				return nil, time.Time{}, nil, fmt.Errorf("--%s needs --fleet", name)
			}
		}
		sc, err := loadScenario(file)
		return sc, start, nil, err
	}
	if set["scenario"] {
		return nil, time.Time{}, nil, errors.New("--fleet and --scenario exclude each other")
	}
	o := sim.FleetOptions{
		Tasks: *ff.tasks, Seed: *ff.seed,
		ChangeRate: float64(ff.rate), ChangeFrom: *ff.from, ChangeTo: *ff.from + *ff.span,
		BurstTasks: *ff.burst, BurstAt: *ff.burstAt, BurstStatus: *ff.burstStatus,
	}
	if err := o.Validate(); err != nil {
		return nil, time.Time{}, nil, fmt.Errorf("fleet: %w", err)
	}
	return sim.Fleet(o), start, &o, nil
}

// rateFlag is a rate of changes per second, written 5 or 5/s.
type rateFlag float64

func (r *rateFlag) String() string { return strconv.FormatFloat(float64(*r), 'g', -1, 64) }

func (r *rateFlag) Set(v string) error {
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "/s"), 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("%q is not a rate (want e.g. 5 or 5/s)", v)
	}
	*r = rateFlag(f)
	return nil
}

// loadScenario reads a scenario file, or with path "" the built-in demo one.
func loadScenario(path string) (*sim.Scenario, error) {
	if path == "" {
		sc, err := sim.ParseScenario(configs.DemoScenario)
		if err != nil {
			return nil, fmt.Errorf("built-in demo scenario: %w", err)
		}
		return sc, nil
	}
	return sim.LoadScenario(path)
}
