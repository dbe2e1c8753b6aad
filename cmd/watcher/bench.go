package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/bench"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/retry"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/sim"
)

// Credentials of the bench's simulators: every request is signed and
// checked, as against the real API. They are bench-only and never printed.
const (
	benchAK = "BENCHACCESSKEY000000"
	benchSK = "bench-secret-key-not-a-real-one"
)

// unlimitedRate lifts the client-side rate limit where the bench measures
// what the pipeline itself can do; config allows it for a loopback simulator.
const unlimitedRate = 1e6

// The phases, in the order they run; memory-one and idle-one are the
// hidden modes the memory and idle phases run in fresh child processes.
const (
	phaseRaw     = "raw"
	phaseCalls   = "calls"
	phaseLatency = "latency"
	phaseBudget  = "budget"
	phaseMemory  = "memory"
	phaseIdle    = "idle"
	phaseSlack   = "slack"
	modeMemory   = "memory-one"
	modeIdle     = "idle-one"
)

var benchPhases = []string{phaseRaw, phaseCalls, phaseLatency, phaseBudget, phaseMemory, phaseIdle, phaseSlack}

// resultPrefix starts the line on which a child mode prints its result.
const resultPrefix = "BENCH-RESULT "

// benchFlags are the sizes and durations of every phase.
type benchFlags struct {
	only         []string
	quick        bool
	seed         uint64
	rawTasks     int
	tasks        int
	concurrency  int
	measure      time.Duration
	cycles       int
	interval     time.Duration
	latencyFor   time.Duration
	changeRate   float64
	budgetFor    time.Duration
	budgetRate   float64
	budgetChange float64
	memTasks     []int
	idleTasks    int
	idleFor      time.Duration
	burst        int
	burstStatus  []string
	slackWait    time.Duration
	cpuprofile   string
	verbose      bool
	detail       string // idle-one: poll.detail
}

// quickValues replace the defaults of the flags not given with --quick:
// every phase in seconds, for the test.
var quickValues = map[string]string{
	"raw-tasks": "1200", "tasks": "300", "for": "500ms", "cycles": "3",
	"latency-for": "2s", "budget-for": "2s", "memory-tasks": "0,300",
	"idle-tasks": "300", "idle-for": "1s", "burst": "5", "burst-status": "FAILED", "slack-wait": "90s",
}

func parseBenchFlags(env cmdEnv, args []string) (*benchFlags, error) {
	fs := newFlags("bench", env)
	f := &benchFlags{}
	only := fs.String("only", strings.Join(benchPhases, ","), "phases to run, comma-separated: "+strings.Join(benchPhases, ", "))
	fs.BoolVar(&f.quick, "quick", false, "small sizes and short durations: seconds in all (what the test runs)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the fleets and their change plans")
	fs.IntVar(&f.rawTasks, "raw-tasks", 10000, "raw: tasks of the unchanged fleet")
	fs.IntVar(&f.tasks, "tasks", 10000, "calls, latency, budget: tasks of the fleet")
	fs.IntVar(&f.concurrency, "concurrency", config.Default().DCS.Concurrency, "dcs.concurrency, and the raw loop's workers")
	fs.DurationVar(&f.measure, "for", 20*time.Second, "raw: length of each measurement")
	fs.IntVar(&f.cycles, "cycles", 20, "calls: cycles measured per mode")
	fs.DurationVar(&f.interval, "interval", time.Second, "calls, latency: poll interval (whole seconds)")
	fs.DurationVar(&f.latencyFor, "latency-for", 60*time.Second, "latency: how long changes go on")
	fs.Float64Var(&f.changeRate, "change-rate", 5, "latency: status changes per second")
	fs.DurationVar(&f.budgetFor, "budget-for", 60*time.Second, "budget: length of the measurement")
	fs.Float64Var(&f.budgetRate, "budget-rate", 20, "budget: dcs.rate_limit, calls per second")
	fs.Float64Var(&f.budgetChange, "budget-change-rate", 1, "budget: status changes per second")
	mem := fs.String("memory-tasks", "0,1000,10000,100000", "memory: fleet sizes, each in a fresh process (0: baseline)")
	fs.IntVar(&f.idleTasks, "idle-tasks", 1000, "idle: tasks of the fleet")
	fs.DurationVar(&f.idleFor, "idle-for", 90*time.Second, "idle: length of the measurement per mode")
	fs.IntVar(&f.burst, "burst", 1000, "slack: tasks changing status at the same instant")
	burstStatus := fs.String("burst-status", "FAILED,"+burstMixed, "slack: bursts to run: a status every task goes to, or "+burstMixed+" (each its own next status)")
	fs.DurationVar(&f.slackWait, "slack-wait", 30*time.Minute, "slack: longest wait for the burst to reach Slack")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the raw phase's watcher section to FILE")
	fs.BoolVar(&f.verbose, "v", false, "log the watcher's warnings to stderr")
	fs.StringVar(&f.detail, "detail", config.DetailOnChange, "idle-one: poll.detail")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := f.applyQuick(fs); err != nil {
		return nil, err
	}
	var err error
	if f.only, err = parsePhases(*only); err != nil {
		return nil, usageError{err}
	}
	if f.memTasks, err = parseSizes(*mem); err != nil {
		return nil, usageError{fmt.Errorf("--memory-tasks: %w", err)}
	}
	f.burstStatus = strings.Split(*burstStatus, ",")
	return f, f.validate()
}

func (f *benchFlags) applyQuick(fs *flag.FlagSet) error {
	if !f.quick {
		return nil
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for name, v := range quickValues {
		if !set[name] {
			if err := fs.Set(name, v); err != nil {
				return fmt.Errorf("quick value of --%s: %w", name, err)
			}
		}
	}
	return nil
}

func parsePhases(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(benchPhases, p) && p != modeMemory && p != modeIdle {
			return nil, fmt.Errorf("--only: unknown phase %q (want %s)", p, strings.Join(benchPhases, ", "))
		}
		out = append(out, p)
	}
	return out, nil
}

// parseSizes reads a comma-separated list of fleet sizes.
func parseSizes(list string) ([]int, error) {
	var out []int
	for _, v := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a number of tasks", v)
		}
		out = append(out, n)
	}
	return out, nil
}

func (f *benchFlags) validate() error {
	var errs []error
	if f.tasks < 0 || f.tasks == 0 && slices.ContainsFunc(f.only, func(p string) bool { return p != modeMemory }) {
		// A memory-one child with 0 tasks is the baseline; any other phase
		// needs a fleet.
		errs = append(errs, errors.New("--tasks must be positive"))
	}
	positive := []struct {
		name string
		v    float64
	}{
		{"--raw-tasks", float64(f.rawTasks)}, {"--concurrency", float64(f.concurrency)},
		{"--for", f.measure.Seconds()}, {"--cycles", float64(f.cycles)}, {"--latency-for", f.latencyFor.Seconds()},
		{"--change-rate", f.changeRate}, {"--budget-for", f.budgetFor.Seconds()}, {"--budget-rate", f.budgetRate},
		{"--budget-change-rate", f.budgetChange}, {"--idle-tasks", float64(f.idleTasks)}, {"--idle-for", f.idleFor.Seconds()},
		{"--burst", float64(f.burst)}, {"--slack-wait", f.slackWait.Seconds()},
	}
	for _, p := range positive {
		if !(p.v > 0) || math.IsInf(p.v, 0) {
			errs = append(errs, fmt.Errorf("%s must be positive", p.name))
		}
	}
	if f.interval < time.Second || f.interval%time.Second != 0 {
		errs = append(errs, errors.New("--interval must be whole seconds, at least 1s (the scheduler's unit)"))
	}
	for _, st := range f.burstStatus {
		if st == "" || strings.TrimSpace(st) != st {
			errs = append(errs, fmt.Errorf("--burst-status: %q is not a status", st))
		}
	}
	if f.detail != config.DetailOnChange && f.detail != config.DetailEveryCycle {
		errs = append(errs, fmt.Errorf("--detail must be %s or %s", config.DetailOnChange, config.DetailEveryCycle))
	}
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

// cmdBench runs the benchmark phases and prints a report on stdout.
func cmdBench(ctx context.Context, env cmdEnv, args []string) error {
	f, err := parseBenchFlags(env, args)
	if err != nil {
		return err
	}
	env.stderr = &lockedWriter{w: env.stderr} // children write to it too
	r, err := newBenchRun(env, f)
	if err != nil {
		return err
	}
	defer r.cleanup()
	switch {
	case slices.Equal(f.only, []string{modeMemory}):
		return r.memoryOne(ctx)
	case slices.Equal(f.only, []string{modeIdle}):
		return r.idleOne(ctx)
	}
	r.header(args)
	var errs []error
	for _, p := range f.only {
		t0 := time.Now()
		err := r.phase(ctx, p)
		fmt.Fprintf(r.out, "\n(phase %s: %s%s)\n", p, bench.Secs(time.Since(t0)), loadNote())
		if err != nil {
			fmt.Fprintf(r.out, "\nphase %s failed: %v\n", p, err)
			errs = append(errs, fmt.Errorf("phase %s: %w", p, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// benchRun is one run of the bench: its flags, output and scratch space.
type benchRun struct {
	env  cmdEnv
	f    *benchFlags
	out  io.Writer
	log  zerolog.Logger
	root string // temp dir holding every watcher's data dir
}

func newBenchRun(env cmdEnv, f *benchFlags) (*benchRun, error) {
	root, err := os.MkdirTemp("", "watcher-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: scratch dir: %w", err)
	}
	log := zerolog.Nop()
	if f.verbose {
		log = newLogger(config.LogConfig{Level: "warn", Format: "console"}, env.stderr)
	}
	return &benchRun{env: env, f: f, out: env.stdout, log: log, root: root}, nil
}

func (r *benchRun) cleanup() { _ = os.RemoveAll(r.root) }

func (r *benchRun) header(args []string) {
	m := bench.ThisMachine()
	fmt.Fprintf(r.out, "# watcher bench\n\n")
	fmt.Fprintf(r.out, "- command: `%s`\n", strings.Join(append([]string{"watcher", "bench"}, args...), " "))
	fmt.Fprintf(r.out, "- machine: %s/%s, %d CPUs (runtime.NumCPU), GOMAXPROCS %d, MemTotal %s, %s\n",
		m.OS, m.Arch, m.NumCPU, m.GOMAXPROCS, bench.GiB(m.MemTotal), m.GoVersion)
	fmt.Fprintf(r.out, "- started: %s%s\n", time.Now().UTC().Format(time.RFC3339), loadNote())
	fmt.Fprintf(r.out, "- the DCS simulator runs in a child process (signed requests checked); CPU and memory figures are this process's: the watcher pipeline and its embedded NATS\n")
}

// loadNote reports the machine's load, so that a reader can tell a phase
// that shared the CPUs with something else.
func loadNote() string {
	l, err := bench.LoadAvg()
	if err != nil {
		return ""
	}
	return fmt.Sprintf("; load average over the last minute %.2f on %d CPUs", l, runtime.NumCPU())
}

func (r *benchRun) phase(ctx context.Context, name string) error {
	switch name {
	case phaseRaw:
		return r.phaseRaw(ctx)
	case phaseCalls:
		return r.phaseCalls(ctx)
	case phaseLatency:
		return r.phaseLatency(ctx)
	case phaseBudget:
		return r.phaseBudget(ctx)
	case phaseMemory:
		return r.phaseMemory(ctx)
	case phaseIdle:
		return r.phaseIdle(ctx)
	case phaseSlack:
		return r.phaseSlack(ctx)
	}
	return fmt.Errorf("phase %s runs only on its own (--only %s)", name, name)
}

// ---- the simulator child and the watcher under test ----

// simChild is a simulator serving a generated fleet in a child process.
type simChild struct {
	*bench.Child
	url   string
	start time.Time // the scenario's time zero
}

// startSim starts `watcher simulate --fleet ...` on a free loopback port,
// its time zero now, and waits for the address it prints.
func (r *benchRun) startSim(ctx context.Context, fo sim.FleetOptions) (*simChild, error) {
	start := time.Now()
	args := []string{"simulate", "--listen", "127.0.0.1:0",
		"--fleet", strconv.Itoa(fo.Tasks), "--seed", strconv.FormatUint(fo.Seed, 10),
		"--start", start.Format(time.RFC3339Nano)}
	if fo.ChangeRate > 0 {
		args = append(args, "--change-rate", strconv.FormatFloat(fo.ChangeRate, 'g', -1, 64),
			"--change-from", fo.ChangeFrom.String(), "--change-for", (fo.ChangeTo - fo.ChangeFrom).String())
	}
	if fo.BurstTasks > 0 {
		args = append(args, "--burst", strconv.Itoa(fo.BurstTasks), "--burst-at", fo.BurstAt.String())
	}
	if fo.BurstStatus != "" {
		args = append(args, "--burst-status", fo.BurstStatus)
	}
	c, err := bench.StartChild(ctx, bench.ChildOptions{
		Args:   args,
		Env:    []string{config.EnvAK + "=" + benchAK, config.EnvSK + "=" + benchSK},
		Stderr: r.env.stderr,
	})
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	line, err := c.ReadLine(wctx)
	if err != nil {
		c.Stop()
		return nil, fmt.Errorf("simulator: %w", err)
	}
	for _, field := range strings.Fields(line) {
		if strings.HasPrefix(field, "http://") {
			return &simChild{Child: c, url: field, start: start}, nil
		}
	}
	c.Stop()
	return nil, fmt.Errorf("simulator: no address in its first line %q", line)
}

func (s *simChild) target() bench.Target {
	return bench.Target{Endpoint: s.url, ProjectID: sim.FleetProjectID, Credentials: dcs.Credentials{AK: benchAK, SK: benchSK}}
}

func (s *simChild) calls(ctx context.Context) (sim.Calls, error) { return bench.SimCalls(ctx, s.url) }

// watchSpec is how a watcher under test differs from the defaults.
type watchSpec struct {
	dir           string        // data dir; empty: a fresh one
	detail        string        // poll.detail
	taskIDs       []string      // poll.task_ids, instead of discovery
	rateLimit     float64       // dcs.rate_limit; 0: lifted
	refreshActive time.Duration // poll.refresh_active; 0: the default
	slackURL      string        // Slack webhook; empty: Slack off
	published     func(notify.Envelope)
}

// watcher is the real pipeline (start) pointed at a simulator child, with
// a record of the cycles poller.Run makes.
type watcher struct {
	*app.App
	cfg    config.Config
	cycles *cycleLog
}

func (r *benchRun) startWatcher(ctx context.Context, s *simChild, w watchSpec) (*watcher, error) {
	if w.dir == "" {
		dir, err := os.MkdirTemp(r.root, "watcher-")
		if err != nil {
			return nil, fmt.Errorf("watcher data dir: %w", err)
		}
		w.dir = dir
	}
	cfg := config.Default()
	cfg.DataDir = w.dir
	cfg.Log.Level = "warn"
	cfg.DCS.Endpoint, cfg.DCS.ProjectID = s.url, sim.FleetProjectID
	cfg.DCS.AK, cfg.DCS.SK = benchAK, benchSK
	cfg.DCS.Concurrency = r.f.concurrency
	cfg.DCS.RateLimit = cmp.Or(w.rateLimit, unlimitedRate)
	cfg.Poll.Detail = cmp.Or(w.detail, config.DetailOnChange)
	cfg.Poll.RefreshActive = cmp.Or(w.refreshActive, cfg.Poll.RefreshActive)
	if len(w.taskIDs) > 0 {
		cfg.Poll.TaskIDs, cfg.Poll.Discover = w.taskIDs, false
	}
	cfg.NATS.Listen = "127.0.0.1:0"
	cfg.Slack.Enabled = w.slackURL != ""
	cfg.Slack.WebhookURL = secret.Secret(w.slackURL)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bench config: %w", err)
	}
	cl := &cycleLog{}
	a, err := app.Start(ctx, cfg, app.Options{Logger: r.log, Published: w.published, Cycled: cl.add})
	if err != nil {
		return nil, fmt.Errorf("start watcher: %w", err)
	}
	return &watcher{App: a, cfg: cfg, cycles: cl}, nil
}

// cycleLog records the cycles poller.Run made.
type cycleLog struct {
	mu    sync.Mutex
	stats []poller.Stats
}

func (c *cycleLog) add(st poller.Stats, _ error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats = append(c.stats, st)
}

func (c *cycleLog) snapshot() []poller.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.stats)
}

// durations summarises how long the recorded cycles took.
func (c *cycleLog) durations() bench.Summary {
	var ds []time.Duration
	for _, st := range c.snapshot() {
		if !st.Skipped {
			ds = append(ds, st.Duration)
		}
	}
	return bench.Percentiles(ds)
}

// runPoller runs w's poller (and Slack notifier, if any) on spec until the
// returned stop is called.
func runPoller(ctx context.Context, w *watcher, spec string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Poller.Run(ctx, spec) })
	if w.Slack != nil {
		wg.Go(func() { _ = w.Slack.Run(ctx) })
	}
	return func() { cancel(); wg.Wait() }
}

// discover runs the first cycle, in which every task is new.
func discover(ctx context.Context, w *watcher) (poller.Stats, time.Duration, error) {
	t0 := time.Now()
	st, err := w.Poller.Cycle(ctx)
	if err != nil {
		return st, 0, fmt.Errorf("discovery cycle: %w", err)
	}
	return st, time.Since(t0), nil
}

// ---- measuring cycles ----

// cycleRun is what a series of cycles did.
type cycleRun struct {
	discovery time.Duration
	cycles    int
	sum       poller.Stats
	elapsed   time.Duration
	cpu       time.Duration
	calls     sim.Calls
}

func (c cycleRun) perCycle(n int64) float64 { return float64(n) / float64(max(c.cycles, 1)) }

// loopSpec says how to drive cycles: back to back for a duration (every
// 0), or one per tick of every, count times.
type loopSpec struct {
	every   time.Duration
	count   int
	length  time.Duration
	profile string // CPU profile file; empty: none
}

// measureCycles starts a watcher, runs discovery, then drives cycles per l
// and measures them: stats, wall and CPU time, and the API calls the
// simulator counted.
func (r *benchRun) measureCycles(ctx context.Context, s *simChild, w watchSpec, l loopSpec) (cycleRun, error) {
	wt, err := r.startWatcher(ctx, s, w)
	if err != nil {
		return cycleRun{}, err
	}
	defer wt.Stop()
	var res cycleRun
	if _, res.discovery, err = discover(ctx, wt); err != nil {
		return res, err
	}
	// One cycle to catch up with what changed while discovery ran, so the
	// first measured cycle sees one interval's changes, not a backlog.
	if _, err := wt.Poller.Cycle(ctx); err != nil {
		return res, fmt.Errorf("cycle after discovery: %w", err)
	}
	c0, err := s.calls(ctx)
	if err != nil {
		return res, err
	}
	stopProfile, err := startProfile(l.profile)
	if err != nil {
		return res, err
	}
	cpu0, _ := bench.CPUTime()
	t0 := time.Now()
	err = driveCycles(ctx, wt, l, &res)
	res.elapsed = time.Since(t0)
	cpu1, _ := bench.CPUTime()
	stopProfile()
	res.cpu = cpu1 - cpu0
	c1, cerr := s.calls(ctx)
	res.calls = bench.CallsDelta(c0, c1)
	return res, errors.Join(err, cerr)
}

func driveCycles(ctx context.Context, wt *watcher, l loopSpec, res *cycleRun) error {
	var tick <-chan time.Time
	if l.every > 0 {
		t := time.NewTicker(l.every)
		defer t.Stop()
		tick = t.C
	}
	t0 := time.Now()
	for {
		if l.every > 0 && res.cycles >= l.count || l.every == 0 && res.cycles > 0 && time.Since(t0) >= l.length {
			return nil
		}
		if tick != nil {
			select {
			case <-tick:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		st, err := wt.Poller.Cycle(ctx)
		if err != nil {
			return fmt.Errorf("cycle %d: %w", res.cycles+1, err)
		}
		res.cycles++
		addStats(&res.sum, st)
	}
}

func addStats(a *poller.Stats, b poller.Stats) {
	a.Tasks += b.Tasks
	a.Fetched += b.Fetched
	a.Failed += b.Failed
	a.Events += b.Events
	a.Writes += b.Writes
	a.Duration += b.Duration
}

func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// ---- a. raw loop vs watcher on an unchanged fleet ----

func (r *benchRun) phaseRaw(ctx context.Context) error {
	n := r.f.rawTasks
	fo := sim.FleetOptions{Tasks: n, Seed: r.f.seed}
	s, err := r.startSim(ctx, fo)
	if err != nil {
		return err
	}
	defer s.Stop()
	ids := fleetIDs(fo)
	ro := bench.RawOptions{Target: s.target(), Concurrency: r.f.concurrency, Duration: r.f.measure}
	rawD, err := bench.RawDetail(ctx, ro, ids)
	if err != nil {
		return err
	}
	rawL, err := bench.RawList(ctx, ro, n)
	if err != nil {
		return err
	}
	// Like for like with the raw loop first: the same ids, detail calls
	// only. Then as a fleet is watched, with the list every cycle.
	idsRun, err := r.measureCycles(ctx, s, watchSpec{detail: config.DetailEveryCycle, taskIDs: ids},
		loopSpec{length: r.f.measure, profile: r.f.cpuprofile})
	if err != nil {
		return fmt.Errorf("every_cycle, configured ids: %w", err)
	}
	every, err := r.measureCycles(ctx, s, watchSpec{detail: config.DetailEveryCycle},
		loopSpec{length: r.f.measure})
	if err != nil {
		return fmt.Errorf("every_cycle: %w", err)
	}
	// A refresh period far beyond the run: no refresh falls due, so every
	// detail call would be one the unchanged fleet did not need.
	const noRefresh = 10000 * time.Hour
	onch, err := r.measureCycles(ctx, s, watchSpec{detail: config.DetailOnChange, refreshActive: noRefresh},
		loopSpec{length: r.f.measure})
	if err != nil {
		return fmt.Errorf("on_change: %w", err)
	}
	// The raw loop again: the machine's pace may drift over a phase, so
	// the watcher is compared with the mean of the runs before and after.
	rawD2, err := bench.RawDetail(ctx, ro, ids)
	if err != nil {
		return err
	}
	rawD = bench.MeanRaw(rawD, rawD2)
	t := rawTable(n, r.f, rawD, rawL, idsRun, every, onch, noRefresh)
	t.Print(r.out)
	return nil
}

func fleetIDs(fo sim.FleetOptions) []string {
	sc := sim.Fleet(fo)
	ids := make([]string, len(sc.Tasks))
	for i := range sc.Tasks {
		ids[i] = sc.Tasks[i].ID
	}
	return ids
}

func pages(n int) int { return max(1, (n+dcs.MaxListLimit-1)/dcs.MaxListLimit) }

func rawTable(n int, f *benchFlags, rawD, rawL bench.RawResult, ids, every, onch cycleRun, noRefresh time.Duration) *bench.Table {
	t := &bench.Table{Title: "a. Unchanged fleet: the watcher against the raw loop"}
	t.Note("%d tasks, none changing; dcs.concurrency %d; client-side rate limit lifted; %s per measurement.", n, f.concurrency, f.measure)
	t.Note("Raw loop: %d workers, one keep-alive client, each call signed (dcs.Sign) and its JSON decoded into a typed struct; detail GETs round robin over the fleet, list pages of %d.", f.concurrency, dcs.MaxListLimit)
	t.Note("Watcher: the real pipeline (start: DCS client, poller, embedded NATS, KV); after the discovery cycle and one more, Cycle back to back. Tasks polled = successful detail calls (Stats.Fetched); rows checked = listed tasks compared (Stats.Tasks); the watcher reads list pages one after another, the raw list loop with %d workers. CPU = getrusage user+sys of this process over the measurement. API calls from the simulator's counters.", f.concurrency)
	t.Note("The raw detail loop runs before and after the watcher's measurements; its figures are the mean of the two. \"every_cycle, ids\" watches the fleet's ids as poll.task_ids (no list call): the raw loop's job. \"every_cycle\" discovers the fleet with the list call each cycle, %d pages read one after another before the detail calls start.", pages(n))
	rawRate := rawD.CallsPerSecond()
	idsPolled := bench.PerSec(int64(ids.sum.Fetched), ids.elapsed)
	idsRatio := idsPolled / rawRate
	polled := bench.PerSec(int64(every.sum.Fetched), every.elapsed)
	ratio := polled / rawRate
	t.Row("raw loop: detail GETs/s", bench.Rate(rawRate), "", "")
	t.Row("raw loop: CPU s per 1,000 GETs (client side)", bench.CPUPer1000(rawD.CPU, rawD.Calls), "", "")
	t.Row("every_cycle, ids: tasks polled/s", bench.Rate(idsPolled), fmt.Sprintf(">= 80%% of raw (%s)", bench.Rate(0.8*rawRate)), bench.Met(idsRatio >= 0.8))
	t.Row("every_cycle, ids: watcher / raw", bench.Pct(idsRatio), ">= 80%", bench.Met(idsRatio >= 0.8))
	t.Row("every_cycle, ids: CPU s per 1,000 polls", bench.CPUPer1000(ids.cpu, int64(ids.sum.Fetched)), "", "")
	t.Row("every_cycle, ids: KV writes after discovery", strconv.Itoa(ids.sum.Writes), "0", bench.Met(ids.sum.Writes == 0))
	t.Row("every_cycle, ids: API calls per cycle", bench.Num(ids.perCycle(ids.calls.List+ids.calls.Detail)), fmt.Sprintf("N = %d", n), "")
	t.Row("every_cycle: discovery cycle", bench.Secs(every.discovery), "", "")
	t.Row("every_cycle: tasks polled/s", bench.Rate(polled), "", "")
	t.Row("every_cycle: watcher / raw", bench.Pct(ratio), "", "")
	t.Row("every_cycle: CPU s per 1,000 polls", bench.CPUPer1000(every.cpu, int64(every.sum.Fetched)), "", "")
	t.Row("every_cycle: cycles measured", strconv.Itoa(every.cycles), "", "")
	t.Row("every_cycle: KV writes after discovery", strconv.Itoa(every.sum.Writes), "0", bench.Met(every.sum.Writes == 0))
	t.Row("every_cycle: events after discovery", strconv.Itoa(every.sum.Events), "0", bench.Met(every.sum.Events == 0))
	t.Row("every_cycle: list calls per cycle", bench.Num(every.perCycle(every.calls.List)), fmt.Sprintf("ceil(N/1000) = %d", pages(n)), "")
	t.Row("every_cycle: detail calls per cycle", bench.Num(every.perCycle(every.calls.Detail)), fmt.Sprintf("N = %d", n), "")
	t.Row("raw loop: list rows/s", bench.Rate(rawL.ItemsPerSecond()), "", "")
	checked := bench.PerSec(int64(onch.sum.Tasks), onch.elapsed)
	t.Row("on_change: discovery cycle", bench.Secs(onch.discovery), "", "")
	t.Row("on_change: rows checked/s", bench.Rate(checked), "", "")
	t.Row("on_change: watcher / raw list", bench.Pct(checked/rawL.ItemsPerSecond()), "", "")
	t.Row("on_change: CPU s per 1,000 rows checked", bench.CPUPer1000(onch.cpu, int64(onch.sum.Tasks)), "", "")
	t.Row("on_change: cycles measured", strconv.Itoa(onch.cycles), "", "")
	t.Row("on_change: KV writes after discovery", strconv.Itoa(onch.sum.Writes), "0", bench.Met(onch.sum.Writes == 0))
	listPer, detailPer := onch.perCycle(onch.calls.List), onch.perCycle(onch.calls.Detail)
	t.Row("on_change: list calls per cycle", bench.Num(listPer), fmt.Sprintf("ceil(N/1000) = %d", pages(n)), bench.Met(listPer == float64(pages(n))))
	t.Row("on_change: detail calls per cycle", bench.Num(detailPer), fmt.Sprintf("refreshes due: 0 (poll.refresh_active %s)", noRefresh), bench.Met(detailPer == 0))
	if c := every.calls.AuthFailures + onch.calls.AuthFailures; c > 0 {
		t.Note("WARNING: %d calls were refused by the simulator's signature check.", c)
	}
	return t
}

// ---- b. API calls per cycle with 1% of the fleet changing per cycle ----

func (r *benchRun) phaseCalls(ctx context.Context) error {
	n, iv := r.f.tasks, r.f.interval
	refresh := 120 * iv
	t := &bench.Table{Title: "b. API calls per cycle, 1% of the tasks changing per cycle"}
	t.Note("%d tasks; status changes at %s/s (1%% of the tasks per %s interval) at random times on random tasks; one Cycle per tick of %s (back to back when a cycle outlasts the interval), %d cycles measured after discovery and one catch-up cycle.", n, bench.Num(0.01*float64(n)/iv.Seconds()), iv, iv, r.f.cycles)
	t.Note("poll.refresh_active = 120 x interval = %s: the refresh share per cycle of the default (1h at a 30 s schedule). Calls from the simulator's counters; events and KV writes from the poller's stats.", refresh)
	var total [2]float64
	for i, mode := range []string{config.DetailEveryCycle, config.DetailOnChange} {
		res, err := r.callsOnce(ctx, n, mode, refresh)
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		total[i] = res.perCycle(res.calls.List + res.calls.Detail)
		t.Row(mode+": list calls per cycle", bench.Num(res.perCycle(res.calls.List)), "", "")
		t.Row(mode+": detail calls per cycle", bench.Num(res.perCycle(res.calls.Detail)), "", "")
		t.Row(mode+": API calls per cycle", bench.Num(total[i]), "", "")
		t.Row(mode+": events per cycle", bench.Num(res.perCycle(int64(res.sum.Events))), "", "")
		t.Row(mode+": KV writes per cycle", bench.Num(res.perCycle(int64(res.sum.Writes))), "", "")
		t.Row(mode+": mean cycle time", bench.Secs(res.sum.Duration/time.Duration(max(res.cycles, 1))), "", "")
	}
	ratio := total[1] / total[0]
	t.Row("on_change / every_cycle, API calls", bench.Pct(ratio), "<= 2%", bench.Met(ratio <= 0.02))
	t.Print(r.out)
	return nil
}

func (r *benchRun) callsOnce(ctx context.Context, n int, mode string, refresh time.Duration) (cycleRun, error) {
	iv := r.f.interval
	// Changes from the start, for longer than discovery and the measured
	// cycles can take: each measured cycle sees 1% of the fleet change.
	span := 60*time.Second + time.Duration(r.f.cycles)*iv*4 + time.Duration(n)*time.Millisecond
	fo := sim.FleetOptions{Tasks: n, Seed: r.f.seed, ChangeRate: 0.01 * float64(n) / iv.Seconds(), ChangeTo: span}
	s, err := r.startSim(ctx, fo)
	if err != nil {
		return cycleRun{}, err
	}
	defer s.Stop()
	return r.measureCycles(ctx, s, watchSpec{detail: mode, refreshActive: refresh}, loopSpec{every: iv, count: r.f.cycles})
}

// ---- c, d. detection latency ----

// latencySpec is one latency measurement.
type latencySpec struct {
	tasks     int
	mode      string
	rate      float64       // changes per second
	length    time.Duration // how long changes go on
	limit     float64       // dcs.rate_limit while measuring; 0: lifted
	tail      time.Duration // extra wait for late detections after the changes
	warmTwice bool          // discover with a lifted limit, restart with limit
}

// latencyResult is what a latency measurement saw.
type latencyResult struct {
	spec     latencySpec
	planned  []sim.StatusChange
	matched  bench.Matched
	start    time.Time // scenario time zero
	end      time.Time // end of the measurement
	warmup   time.Duration
	ready    time.Duration // when the measured watcher polled, from time zero
	cycles   bench.Summary
	nCycles  int
	overran  bool
	apiCalls sim.Calls
}

// warmup is how long after time zero the changes start: enough for the
// simulator child to start and the watcher to discover the fleet.
func (r *benchRun) warmup(n int, twice bool) time.Duration {
	d := 5*time.Second + time.Duration(n)*1500*time.Microsecond
	if twice {
		d += 3*time.Second + time.Duration(n)*300*time.Microsecond // restart: NATS and KV load
	}
	if r.f.quick {
		d = 1500*time.Millisecond + time.Duration(n)*3*time.Millisecond
	}
	return d.Round(100 * time.Millisecond)
}

func (r *benchRun) measureLatency(ctx context.Context, ls latencySpec) (latencyResult, error) {
	res := latencyResult{spec: ls, warmup: r.warmup(ls.tasks, ls.warmTwice)}
	fo := sim.FleetOptions{Tasks: ls.tasks, Seed: r.f.seed, ChangeRate: ls.rate,
		ChangeFrom: res.warmup, ChangeTo: res.warmup + ls.length}
	res.planned = sim.Fleet(fo).StatusChanges()
	s, err := r.startSim(ctx, fo)
	if err != nil {
		return res, err
	}
	defer s.Stop()
	res.start = s.start
	wt, err := r.warmWatcher(ctx, s, ls)
	if err != nil {
		return res, err
	}
	defer wt.Stop()
	filter := wt.cfg.NATS.SubjectPrefix + ".*.*." + string(diff.StatusChanged) + ".>"
	obs, err := bench.Observe(ctx, wt.Broker.JS, wt.cfg.NATS.Stream, filter)
	if err != nil {
		return res, err
	}
	defer obs.Stop()
	c0, err := s.calls(ctx)
	if err != nil {
		return res, err
	}
	res.ready = time.Since(s.start)
	res.overran = res.ready > res.warmup
	stop := runPoller(ctx, wt, "@every "+r.f.interval.String())
	err = waitDetections(ctx, obs, len(res.planned), s.start.Add(res.warmup+ls.length), ls.tail)
	res.end = time.Now()
	stop()
	c1, cerr := s.calls(ctx)
	res.apiCalls = bench.CallsDelta(c0, c1)
	res.matched = bench.MatchChanges(res.planned, s.start, obs.Observations())
	res.cycles, res.nCycles = wt.cycles.durations(), len(wt.cycles.snapshot())
	return res, errors.Join(err, cerr)
}

// waitDetections waits until the last change is due, then until as many
// events as planned changes have come or tail has passed.
func waitDetections(ctx context.Context, obs *bench.Observer, planned int, last time.Time, tail time.Duration) error {
	if err := retry.SleepUntil(ctx, last); err != nil {
		return err
	}
	deadline := last.Add(tail)
	for obs.Count() < planned && time.Now().Before(deadline) {
		if err := retry.SleepUntil(ctx, time.Now().Add(100*time.Millisecond)); err != nil {
			return err
		}
	}
	return nil
}

// warmWatcher returns a watcher that has discovered the fleet: the one that
// discovered it, or (warmTwice) a new one with the rate limit of ls on the
// same data dir, the snapshots persisting in KV.
func (r *benchRun) warmWatcher(ctx context.Context, s *simChild, ls latencySpec) (*watcher, error) {
	spec := watchSpec{detail: ls.mode}
	if !ls.warmTwice {
		spec.rateLimit = ls.limit
	}
	wt, err := r.startWatcher(ctx, s, spec)
	if err != nil {
		return nil, err
	}
	if _, _, err := discover(ctx, wt); err != nil || !ls.warmTwice {
		if err != nil {
			wt.Stop()
		}
		return wt, err
	}
	wt.Stop()
	spec.dir, spec.rateLimit = wt.cfg.DataDir, ls.limit
	return r.startWatcher(ctx, s, spec)
}

func (r *benchRun) phaseLatency(ctx context.Context) error {
	n, iv := r.f.tasks, r.f.interval
	target := iv + 250*time.Millisecond
	t := &bench.Table{Title: "c. Detection latency"}
	t.Note("%d tasks; poller.Run on \"@every %s\"; %s status changes/s at random times for %s, after the watcher discovered the fleet; client-side rate limit lifted.", n, iv, bench.Num(r.f.changeRate), r.f.latencyFor)
	t.Note("Latency = the time JetStream stored the status_changed event (message metadata, read by an ordered consumer) - the planned change time (the simulator's time zero + the change's offset); events matched to changes by task id and new status.")
	for _, mode := range []string{config.DetailEveryCycle, config.DetailOnChange} {
		// Up to 30 s for the last detections: per-task polling's cycle may
		// be far longer than the interval.
		res, err := r.measureLatency(ctx, latencySpec{tasks: n, mode: mode, rate: r.f.changeRate, length: r.f.latencyFor, tail: 30 * time.Second})
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		latencyRows(t, res, target)
	}
	t.Print(r.out)
	return nil
}

func latencyRows(t *bench.Table, res latencyResult, target time.Duration) {
	mode := res.spec.mode
	sum := bench.Percentiles(res.matched.Latencies())
	planned := len(res.planned)
	detected := len(res.matched.Detected)
	t.Row(mode+": detected / planned", fmt.Sprintf("%d / %d", detected, planned), "all", bench.Met(detected == planned))
	t.Row(mode+": latency p50", bench.Secs(sum.P50), "", "")
	t.Row(mode+": latency p99", bench.Secs(sum.P99), "<= interval + 250 ms = "+bench.Secs(target), bench.Met(detected == planned && sum.P99 <= target))
	t.Row(mode+": latency max", bench.Secs(sum.Max), "", "")
	t.Row(mode+": cycles (median / max duration)", fmt.Sprintf("%d (%s / %s)", res.nCycles, bench.Secs(res.cycles.P50), bench.Secs(res.cycles.Max)), "", "")
	if res.matched.Unplanned > 0 {
		t.Note("%s: %d status_changed events matched no planned change.", mode, res.matched.Unplanned)
	}
	if res.overran {
		t.Note("%s: the watcher was ready %s after time zero, after the changes began (%s): the first changes' latencies include the warm-up.", mode, bench.Secs(res.ready), bench.Secs(res.warmup))
	}
}

func (r *benchRun) phaseBudget(ctx context.Context) error {
	n, limit := r.f.tasks, r.f.budgetRate
	t := &bench.Table{Title: fmt.Sprintf("d. Detection latency under a fixed API budget (%s calls/s)", bench.Num(limit))}
	tail := 5 * time.Second
	if r.f.quick {
		tail = 2 * time.Second
	}
	t.Note("%d tasks; snapshots first warmed up by a watcher without a rate limit, which is then closed; a watcher with dcs.rate_limit %s on the same data dir (state from KV) runs poller.Run on \"@every %s\" for %s with %s status changes/s; detections counted until %s after the last change.", n, bench.Num(limit), r.f.interval, r.f.budgetFor, bench.Num(r.f.budgetChange), tail)
	t.Note("A change not detected by the end counts with its age at the end: the percentiles are then lower bounds (>=). poll.refresh_active at its default (%s). The limiter allows a burst of one second's worth (%s calls) on top of the rate, which shows in a short measurement.", config.Default().Poll.RefreshActive, bench.Num(limit))
	for _, mode := range []string{config.DetailEveryCycle, config.DetailOnChange} {
		res, err := r.measureLatency(ctx, latencySpec{tasks: n, mode: mode, rate: r.f.budgetChange,
			length: r.f.budgetFor, limit: limit, tail: tail, warmTwice: true})
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		budgetRows(t, res, n, limit)
	}
	t.Print(r.out)
	return nil
}

func budgetRows(t *bench.Table, res latencyResult, n int, limit float64) {
	mode := res.spec.mode
	lats := res.matched.Latencies()
	for _, c := range res.matched.Missing {
		lats = append(lats, res.end.Sub(res.start.Add(c.At)))
	}
	sum := bench.Percentiles(lats)
	bound := ""
	if len(res.matched.Missing) > 0 {
		bound = ">= "
	}
	detected, planned := len(res.matched.Detected), len(res.planned)
	calls := float64(res.apiCalls.List + res.apiCalls.Detail)
	t.Row(mode+": detected / planned", fmt.Sprintf("%d / %d", detected, planned), "", "")
	t.Row(mode+": latency p50", bound+bench.Secs(sum.P50), "", "")
	if mode == config.DetailOnChange {
		t.Row(mode+": latency p99", bound+bench.Secs(sum.P99), "< 5 s", bench.Met(bound == "" && sum.P99 < 5*time.Second))
		t.Row(mode+": cycle length implied by the budget", fmt.Sprintf("ceil(N/1000)/%s = %s + detail calls", bench.Num(limit), bench.Secs(bench.Seconds(float64(pages(n))/limit))), "", "")
	} else {
		cycle := bench.Seconds(float64(n+pages(n)) / limit)
		t.Row(mode+": latency p99", bound+bench.Secs(sum.P99), "> "+bench.Secs(cycle)+" expected (a cycle's length)", "")
		t.Row(mode+": cycle length implied by the budget", fmt.Sprintf("(N + ceil(N/1000))/%s = %s", bench.Num(limit), bench.Secs(cycle)), "", "")
	}
	t.Row(mode+": latency max", bound+bench.Secs(sum.Max), "", "")
	t.Row(mode+": API calls/s while measuring", bench.Num(calls/res.end.Sub(res.start.Add(res.ready)).Seconds()), "", "")
	if res.overran {
		t.Note("%s: the watcher was ready %s after time zero, after the changes began (%s).", mode, bench.Secs(res.ready), bench.Secs(res.warmup))
	}
}

// ---- e. memory per watched task ----

// discovered starts a simulator of an unchanging fleet of n tasks and a
// watcher in the given detail mode, and runs the discovery cycle: where
// the memory and idle children start. The caller stops both.
func (r *benchRun) discovered(ctx context.Context, n int, detail string) (*simChild, *watcher, time.Duration, error) {
	s, err := r.startSim(ctx, sim.FleetOptions{Tasks: n, Seed: r.f.seed})
	if err != nil {
		return nil, nil, 0, err
	}
	wt, err := r.startWatcher(ctx, s, watchSpec{detail: detail})
	if err != nil {
		s.Stop()
		return nil, nil, 0, err
	}
	_, took, err := discover(ctx, wt)
	if err != nil {
		wt.Stop()
		s.Stop()
		return nil, nil, 0, err
	}
	return s, wt, took, nil
}

// memoryResult is what a memory-one child prints.
type memoryResult struct {
	Tasks     int     `json:"tasks"`
	RSS       int64   `json:"rss"`
	Heap      uint64  `json:"heap"`
	Discovery float64 `json:"discovery_seconds"`
}

// memoryOne is the memory phase's child: a fresh process (so RSS is this
// fleet's alone) discovers --tasks tasks in on_change mode, runs three
// more cycles and prints RSS and the Go heap in use.
func (r *benchRun) memoryOne(ctx context.Context) error {
	s, wt, took, err := r.discovered(ctx, r.f.tasks, config.DetailOnChange)
	if err != nil {
		return err
	}
	defer s.Stop()
	defer wt.Stop()
	for range 3 {
		if _, err := wt.Poller.Cycle(ctx); err != nil {
			return fmt.Errorf("cycle after discovery: %w", err)
		}
	}
	heap := bench.HeapInUse()
	rss, err := bench.RSS()
	if err != nil {
		return err
	}
	return printResult(r.out, memoryResult{Tasks: r.f.tasks, RSS: rss, Heap: heap, Discovery: took.Seconds()})
}

func printResult(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("bench result: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s%s\n", resultPrefix, b)
	return err
}

// childResult runs `watcher bench --only MODE args...` in a fresh process
// and decodes the result it prints.
func (r *benchRun) childResult(ctx context.Context, mode string, args []string, v any) error {
	full := append([]string{"bench", "--only", mode, "--seed", strconv.FormatUint(r.f.seed, 10),
		"--concurrency", strconv.Itoa(r.f.concurrency)}, args...)
	if r.f.verbose {
		full = append(full, "-v")
	}
	c, err := bench.StartChild(ctx, bench.ChildOptions{Args: full, Stderr: r.env.stderr})
	if err != nil {
		return err
	}
	defer c.Stop()
	for {
		line, err := c.ReadLine(ctx)
		if err != nil {
			return err
		}
		if rest, ok := strings.CutPrefix(line, resultPrefix); ok {
			if err := json.Unmarshal([]byte(rest), v); err != nil {
				return fmt.Errorf("%s: result %q: %w", mode, rest, err)
			}
			return c.Wait(ctx)
		}
	}
}

func (r *benchRun) phaseMemory(ctx context.Context) error {
	t := &bench.Table{Title: "e. Memory per watched task"}
	t.Note("Each size in a fresh process (`watcher bench --only %s --tasks N`): on_change mode, discovery plus 3 cycles, then RSS (VmRSS) and the Go heap in use (runtime/metrics %q after runtime.GC). The process holds the watcher and its embedded NATS (JetStream stream and KV on disk, in memory what they cache); the simulator is another process.", modeMemory, "/memory/classes/heap/objects:bytes")
	var base *memoryResult
	for _, n := range r.f.memTasks {
		var m memoryResult
		if err := r.childResult(ctx, modeMemory, []string{"--tasks", strconv.Itoa(n)}, &m); err != nil {
			return fmt.Errorf("%d tasks: %w", n, err)
		}
		memoryRows(t, m, base)
		if n == 0 {
			base = &m
		}
	}
	t.Print(r.out)
	return nil
}

func memoryRows(t *bench.Table, m memoryResult, base *memoryResult) {
	label := fmt.Sprintf("%d tasks: ", m.Tasks)
	target, ok := "", ""
	if m.Tasks == 10000 {
		target, ok = "<= 150 MB", bench.Met(m.RSS <= 150e6)
	}
	t.Row(label+"RSS", bench.MB(m.RSS), target, ok)
	t.Row(label+"Go heap in use", bench.MB(int64(m.Heap)), "", "")
	if m.Tasks == 0 {
		return
	}
	t.Row(label+"RSS per task", bench.KB(float64(m.RSS)/float64(m.Tasks)), "", "")
	t.Row(label+"heap per task", bench.KB(float64(m.Heap)/float64(m.Tasks)), "", "")
	if base != nil {
		t.Row(label+"(RSS - baseline) per task", bench.KB(float64(m.RSS-base.RSS)/float64(m.Tasks)), "", "")
		t.Row(label+"(heap - baseline) per task", bench.KB((float64(m.Heap)-float64(base.Heap))/float64(m.Tasks)), "", "")
	}
	t.Row(label+"discovery cycle", bench.Secs(bench.Seconds(m.Discovery)), "", "")
}

// ---- f. idle CPU ----

// idleResult is what an idle-one child prints.
type idleResult struct {
	Tasks  int     `json:"tasks"`
	Detail string  `json:"detail"`
	CPU    float64 `json:"cpu_seconds"`
	Wall   float64 `json:"wall_seconds"`
	Cycles int     `json:"cycles"`
	Calls  int64   `json:"api_calls"`
}

// idleOne is the idle phase's child: after discovery, poller.Run on
// "@every 30s" for --idle-for, and the CPU time it took.
func (r *benchRun) idleOne(ctx context.Context) error {
	s, wt, _, err := r.discovered(ctx, r.f.idleTasks, r.f.detail)
	if err != nil {
		return err
	}
	defer s.Stop()
	defer wt.Stop()
	c0, err := s.calls(ctx)
	if err != nil {
		return err
	}
	cpu0, _ := bench.CPUTime()
	t0 := time.Now()
	stop := runPoller(ctx, wt, "@every 30s")
	err = retry.SleepUntil(ctx, t0.Add(r.f.idleFor))
	stop()
	wall := time.Since(t0)
	cpu1, _ := bench.CPUTime()
	c1, cerr := s.calls(ctx)
	if err = errors.Join(err, cerr); err != nil {
		return err
	}
	d := bench.CallsDelta(c0, c1)
	return printResult(r.out, idleResult{Tasks: r.f.idleTasks, Detail: r.f.detail, CPU: (cpu1 - cpu0).Seconds(),
		Wall: wall.Seconds(), Cycles: len(wt.cycles.snapshot()), Calls: d.List + d.Detail})
}

func (r *benchRun) phaseIdle(ctx context.Context) error {
	t := &bench.Table{Title: "f. Idle CPU"}
	t.Note("%d unchanging tasks, poller.Run on \"@every 30s\" for %s after discovery, each mode in a fresh process (`watcher bench --only %s`); CPU %% of one core = getrusage user+sys / wall time, the embedded NATS included, Slack off.", r.f.idleTasks, r.f.idleFor, modeIdle)
	for _, mode := range []string{config.DetailEveryCycle, config.DetailOnChange} {
		var res idleResult
		args := []string{"--idle-tasks", strconv.Itoa(r.f.idleTasks), "--idle-for", r.f.idleFor.String(), "--detail", mode}
		if err := r.childResult(ctx, modeIdle, args, &res); err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		share := res.CPU / res.Wall
		target, ok := "", ""
		if res.Tasks == 1000 {
			target, ok = "< 1% (1,000 tasks, 30 s)", bench.Met(share < 0.01)
		}
		t.Row(mode+": CPU % of one core", bench.Pct(share), target, ok)
		t.Row(mode+": CPU s / wall s", fmt.Sprintf("%.3f / %.1f", res.CPU, res.Wall), "", "")
		t.Row(mode+": cycles, API calls", fmt.Sprintf("%d, %d", res.Cycles, res.Calls), "", "")
	}
	t.Print(r.out)
	return nil
}

// ---- g. Slack burst ----

// burstMixed names the burst in which each task goes to its own next
// status, so that like statuses are interleaved in the stream.
const burstMixed = "mixed"

func (r *benchRun) phaseSlack(ctx context.Context) error {
	for _, status := range r.f.burstStatus {
		if err := r.slackBurst(ctx, status); err != nil {
			return fmt.Errorf("burst to %s: %w", status, err)
		}
	}
	return nil
}

func (r *benchRun) slackBurst(ctx context.Context, status string) error {
	k := r.f.burst
	at := r.warmup(k, false)
	fo := sim.FleetOptions{Tasks: k, Seed: r.f.seed, BurstTasks: k, BurstAt: at}
	if status != burstMixed {
		fo.BurstStatus = status
	}
	var burst [][]string // the ways each task of the burst may be named
	for _, c := range sim.Fleet(fo).StatusChanges() {
		burst = append(burst, []string{c.TaskName, c.TaskID})
	}
	sink := bench.NewSlackSink(nil)
	url, stopSink, err := sink.Serve(ctx)
	if err != nil {
		return err
	}
	defer stopSink()
	s, err := r.startSim(ctx, fo)
	if err != nil {
		return err
	}
	defer s.Stop()
	var published counter
	wt, err := r.startWatcher(ctx, s, watchSpec{slackURL: url, published: func(e notify.Envelope) {
		if e.Data.Kind == diff.StatusChanged {
			published.add()
		}
	}})
	if err != nil {
		return err
	}
	defer wt.Stop()
	stop := runPoller(ctx, wt, "@every 1s")
	instant := s.start.Add(at)
	covered, err := waitSlack(ctx, wt, sink, burst, instant, r.f.slackWait)
	stop()
	if err != nil {
		return err
	}
	slackTable(r, status, published.get(), sink, covered, instant).Print(r.out)
	return nil
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }

func (c *counter) get() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

// waitSlack waits until the accepted messages cover every task of the
// burst, or the notifier has nothing pending some seconds after the burst
// (what is missing then is dropped), or wait has passed.
func waitSlack(ctx context.Context, wt *watcher, sink *bench.SlackSink, burst [][]string, instant time.Time, wait time.Duration) (int, error) {
	deadline := instant.Add(wait)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case now := <-tick.C:
			covered := bench.Covered(sink.Accepted(), burst)
			if covered == len(burst) || now.After(deadline) {
				return covered, nil
			}
			if now.After(instant.Add(10 * time.Second)) {
				if p, err := wt.Slack.Pending(ctx); err == nil && p == 0 {
					return covered, nil
				}
			}
		}
	}
}

func slackTable(r *benchRun, status string, published int, sink *bench.SlackSink, covered int, instant time.Time) *bench.Table {
	k := r.f.burst
	what := "all to " + status + " (one incident)"
	if status == burstMixed {
		what = "each to its own next status (FULLMIGRATING, INCRMIGEATING or FAILED, interleaved in the stream)"
	}
	t := &bench.Table{Title: fmt.Sprintf("g. Slack burst: %d transitions at one instant, %s", k, what)}
	t.Note("%d tasks change status at the same instant; on_change mode on \"@every 1s\"; Slack enabled with the webhook URL of a local sink that enforces 1 message per second per channel (token bucket of 1; beyond it 429, Retry-After: 1, \"rate_limited\"); Slack rate and grouping at the notifier's defaults.", k)
	t.Note("Covered = tasks of the burst whose name or id appears in an accepted message. Drain = last accepted message - the burst instant. Waited at most %s.", r.f.slackWait)
	acc := sink.Accepted()
	times := make([]time.Time, len(acc))
	for i, m := range acc {
		times[i] = m.At
	}
	drain := "-"
	if len(acc) > 0 {
		drain = bench.Secs(acc[len(acc)-1].At.Sub(instant))
	}
	limited := sink.RateLimited()
	perSecond := bench.MaxInWindow(times, time.Second)
	attempts := bench.MaxInWindow(sink.Attempts(), time.Second)
	t.Row("status_changed events published", strconv.Itoa(published), strconv.Itoa(k), bench.Met(published == k))
	t.Row("Slack messages accepted", strconv.Itoa(len(acc)), "", "")
	t.Row("tasks covered", fmt.Sprintf("%d of %d", covered, k), "all", bench.Met(covered == k))
	t.Row("tasks dropped", strconv.Itoa(k-covered), "0", bench.Met(covered == k))
	t.Row("429s received", strconv.Itoa(limited), "0 (paced at Slack's rate)", bench.Met(limited == 0))
	t.Row("time to drain", drain, "", "")
	t.Row("most messages accepted in 1 s", strconv.Itoa(perSecond), "<= 1", bench.Met(perSecond <= 1))
	t.Row("most POSTs tried in 1 s", strconv.Itoa(attempts), "<= 1", bench.Met(attempts <= 1))
	return t
}
