package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/memlimit"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/sim"
)

// ---- the simulator child and the watcher under test ----

// simChild is a simulator serving a generated fleet in a child process.
type simChild struct {
	*Child
	url   string
	start time.Time // the scenario's time zero
}

// startSim starts `watcher simulate --fleet ...` on a free loopback port,
// its time zero now, and waits for the address it prints.
func (r *runner) startSim(ctx context.Context, fo sim.FleetOptions) (*simChild, error) {
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
	c, err := StartChild(ctx, ChildOptions{
		Path:   r.o.Executable,
		Args:   args,
		Env:    []string{config.EnvAK + "=" + SimAK, config.EnvSK + "=" + SimSK},
		Stderr: r.o.Stderr,
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

func (s *simChild) target() Target {
	return Target{Endpoint: s.url, ProjectID: sim.FleetProjectID, Credentials: dcs.Credentials{AK: SimAK, SK: SimSK}}
}

func (s *simChild) calls(ctx context.Context) (sim.Calls, error) { return SimCalls(ctx, s.url) }

// watchSpec is how a watcher under test differs from the defaults.
type watchSpec struct {
	dir           string        // data dir; empty: a fresh one
	detail        string        // poll.detail
	taskIDs       []string      // poll.task_ids, instead of discovery
	rateLimit     float64       // dcs.rate_limit; 0: lifted
	refreshActive time.Duration // poll.refresh_active; 0: the default
	schedule      string        // poll.schedule; empty: the default
	slackURL      string        // Slack webhook; empty: Slack off
	published     func(notify.Envelope)
	fleet         *memlimit.Fleet // sizes the soft memory limit (auto); nil: none
}

// watcher is the real pipeline (start) pointed at a simulator child, with
// a record of the cycles poller.Run makes.
type watcher struct {
	*app.App
	cfg    config.Config
	cycles *cycleLog
}

func (r *runner) startWatcher(ctx context.Context, s *simChild, w watchSpec) (*watcher, error) {
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
	cfg.DCS.AK, cfg.DCS.SK = SimAK, SimSK
	cfg.DCS.Concurrency = r.o.Concurrency
	cfg.DCS.RateLimit = cmp.Or(w.rateLimit, unlimitedRate)
	cfg.Poll.Detail = cmp.Or(w.detail, config.DetailOnChange)
	cfg.Poll.RefreshActive = cmp.Or(w.refreshActive, cfg.Poll.RefreshActive)
	cfg.Poll.Schedule = cmp.Or(w.schedule, cfg.Poll.Schedule)
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
	a, err := app.Start(ctx, cfg, app.Options{Logger: r.o.Logger, Published: w.published, Cycled: cl.add, Fleet: w.fleet})
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
func (c *cycleLog) durations() Summary {
	var ds []time.Duration
	for _, st := range c.snapshot() {
		if !st.Skipped {
			ds = append(ds, st.Duration)
		}
	}
	return Percentiles(ds)
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
func (r *runner) measureCycles(ctx context.Context, s *simChild, w watchSpec, l loopSpec) (cycleRun, error) {
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
	cpu0, _ := CPUTime()
	t0 := time.Now()
	err = driveCycles(ctx, wt, l, &res)
	res.elapsed = time.Since(t0)
	cpu1, _ := CPUTime()
	stopProfile()
	res.cpu = cpu1 - cpu0
	c1, cerr := s.calls(ctx)
	res.calls = CallsDelta(c0, c1)
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
		res.sum.Add(st)
	}
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

// writeHeapProfile writes the heap profile (every allocation since the
// start, and the objects live after a collection) to path; "" writes none.
func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("heap profile %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("heap profile %s: %w", path, err)
	}
	return nil
}

// sizedPath puts "-<n>" before path's extension: one file per fleet size.
func sizedPath(path string, n int) string {
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s-%d%s", strings.TrimSuffix(path, ext), n, ext)
}

// coveredPath is the profile taken at the cold start's coverage: path
// with "-covered" before its extension.
func coveredPath(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-covered" + ext
}
