package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/memlimit"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/retry"
	"github.com/dcs-watcher/watcher/internal/sim"
)

// ---- h. cold start ----

// coldChange is when, after the watcher's start, the fleet's one change is
// made. The watcher starts coldLead after the simulator's time zero (the
// simulator's start-up must fit in it); --quick shortens the lead.
const (
	coldChange    = 5 * time.Second
	coldLeadFull  = 10 * time.Second
	coldLeadQuick = 3 * time.Second
)

func (r *runner) coldLead() time.Duration {
	if r.o.Quick {
		return coldLeadQuick
	}
	return coldLeadFull
}

// coldSchedule is the cold start's poll.schedule: the default's unless
// --cold-schedule says otherwise (--quick: seconds).
func (r *runner) coldSchedule() string {
	if r.o.ColdSchedule != "" {
		return r.o.ColdSchedule
	}
	return config.Default().Poll.Schedule
}

// coldResult is what a coldstart-one child prints.
type coldResult struct {
	Tasks    int     `json:"tasks"`
	Coverage float64 `json:"coverage_seconds"`     // start -> every task has a snapshot (its discovered event is out); -1: not by the end
	Change   float64 `json:"change_seconds"`       // change made -> its status_changed published; -1: not by the end
	Cycles   int     `json:"cycles"`               // cycles poller.Run made
	Budget   int     `json:"budget"`               // calls per cycle allowed
	MaxCalls int64   `json:"max_calls_per_cycle"`  // detail calls + list pages, the largest cycle
	CallRate float64 `json:"calls_per_second"`     // API calls over the run / its length
	Calls    int64   `json:"calls"`                // API calls over the run
	Oldest   float64 `json:"oldest_refresh_secs"`  // OldestRefresh of the last cycle
	FirstLen float64 `json:"first_cycle_seconds"`  // length of the first cycle
	Peak     int64   `json:"peak_rss"`             // VmHWM
	RSS      int64   `json:"rss"`                  // VmRSS at the end
	Wall     float64 `json:"wall_seconds"`         // how long the watcher ran
	Ready    float64 `json:"sim_ready_seconds"`    // the simulator's start-up
	Skipped  int     `json:"skipped_ticks_approx"` // ticks lost to a long cycle
	Interval float64 `json:"interval_seconds"`     // of the schedule
	Schedule string  `json:"schedule"`
	MemLimit string  `json:"memory_limit"` // the soft memory limit in force, and where from
}

// coldOne is the cold-start phase's child: a fresh process (so its peak
// RSS is this fleet's alone) starts a watcher with the default
// configuration (poll.detail auto, dcs.rate_limit 20, "@every 30s") on an
// empty data dir against a fleet of --tasks tasks of which one fails
// coldChange after the start, runs poller.Run until the fleet is covered,
// the change is reported and --cycles cycles ran, and prints what it saw.
func (r *runner) coldOne(ctx context.Context) error {
	n := r.o.Tasks
	coldLead := r.coldLead()
	s, err := r.startSim(ctx, sim.FleetOptions{Tasks: n, Seed: r.o.Seed, BurstTasks: 1, BurstAt: coldLead + coldChange, BurstStatus: "FAILED"})
	if err != nil {
		return err
	}
	defer s.Stop()
	ready := time.Since(s.start)
	if ready >= coldLead {
		return fmt.Errorf("the simulator took %s to start, more than the %s lead before the watcher", Secs(ready), Secs(coldLead))
	}
	if err := retry.SleepUntil(ctx, s.start.Add(coldLead)); err != nil {
		return err
	}
	def := config.Default()
	limit, err := r.applyMemoryLimit(def)
	if err != nil {
		return err
	}
	fleet := memlimit.NewFleet(limit, nil)
	var (
		mu                 sync.Mutex
		discovered         int
		covered, changedAt time.Time
	)
	published := func(env notify.Envelope) {
		mu.Lock()
		defer mu.Unlock()
		switch env.Data.Kind {
		case "discovered":
			if discovered++; discovered == n {
				covered = time.Now()
			}
		case "status_changed":
			if changedAt.IsZero() {
				changedAt = time.Now()
			}
		}
	}
	t0 := time.Now()
	wt, err := r.startWatcher(ctx, s, watchSpec{detail: config.DetailAuto, rateLimit: def.DCS.RateLimit, schedule: r.coldSchedule(), published: published, fleet: fleet})
	if err != nil {
		return err
	}
	defer wt.Stop()
	c0, err := s.calls(ctx)
	if err != nil {
		return err
	}
	stop := runPoller(ctx, wt, wt.cfg.Poll.Schedule)
	deadline := t0.Add(r.o.ColdFor)
	profiled := false
	for {
		mu.Lock()
		done := !covered.IsZero() && !changedAt.IsZero()
		coveredNow := !covered.IsZero()
		mu.Unlock()
		if coveredNow && !profiled && r.o.MemProfile != "" {
			// What the first cycle holds once the fleet is covered.
			profiled = true
			if err := writeHeapProfile(coveredPath(r.o.MemProfile)); err != nil {
				stop()
				return err
			}
		}
		if done && len(wt.cycles.snapshot()) >= r.o.ColdCycles || time.Now().After(deadline) {
			break
		}
		if err := retry.SleepUntil(ctx, time.Now().Add(200*time.Millisecond)); err != nil {
			stop()
			return err
		}
	}
	stop()
	wall := time.Since(t0)
	c1, err := s.calls(ctx)
	if err != nil {
		return err
	}
	d := CallsDelta(c0, c1)
	if fleet != nil {
		limit = fleet.Applied()
	}
	res := coldResult{Tasks: n, Coverage: -1, Change: -1, Schedule: wt.cfg.Poll.Schedule, Wall: wall.Seconds(), Ready: ready.Seconds(), MemLimit: limit.String(),
		Calls: d.List + d.Detail, CallRate: float64(d.List+d.Detail) / wall.Seconds()}
	mu.Lock()
	if !covered.IsZero() {
		res.Coverage = covered.Sub(t0).Seconds()
	}
	if !changedAt.IsZero() {
		res.Change = changedAt.Sub(s.start.Add(coldLead + coldChange)).Seconds()
	}
	mu.Unlock()
	stats := wt.cycles.snapshot()
	res.Cycles = len(stats)
	for i, st := range stats {
		res.Budget = max(res.Budget, st.Budget)
		res.MaxCalls = max(res.MaxCalls, int64(st.Fetched+st.Failed+listPages(st.Tasks)))
		if i == 0 {
			res.FirstLen = st.Duration.Seconds()
		}
		res.Oldest = st.OldestRefresh.Seconds()
	}
	res.Interval = wt.Poller.Interval().Seconds()
	// The ticks the run held beyond its cycles are ticks a running cycle
	// made the scheduler skip.
	if res.Interval > 0 {
		res.Skipped = max(0, int(wall.Seconds()/res.Interval)+1-len(stats))
	}
	if res.Peak, err = PeakRSS(); err != nil {
		return err
	}
	if res.RSS, err = RSS(); err != nil {
		return err
	}
	if err := writeHeapProfile(r.o.MemProfile); err != nil {
		return err
	}
	return printResult(r.out, res)
}

// listPages is what listing n tasks costs, as the poller counts it.
func listPages(n int) int { return max(1, (n+999)/1000) }

func (r *runner) phaseColdStart(ctx context.Context) error {
	t := &Table{Title: "h. Cold start under the default budget"}
	t.Note("Each size in a fresh process (`watcher bench --only %s --tasks N`): the default configuration (poll.detail %s, dcs.rate_limit %s, schedule %q), an empty data dir, poller.Run; the fleet's one change (a task to FAILED) is made %s after the watcher's start. Coverage: every task's discovered event published (its snapshot stored before). Run until covered, the change reported and %d cycles ran (at most %s). Peak RSS = VmHWM of the process (the watcher and its embedded NATS; the simulator is another process). Calls from the simulator's counters; oldest refresh = Stats.OldestRefresh of the last cycle.",
		ModeColdStart, config.DetailAuto, Num(config.Default().DCS.RateLimit), r.coldSchedule(), Secs(coldChange), r.o.ColdCycles, Secs(r.o.ColdFor))
	var errs []error
	for _, n := range r.o.ColdTasks {
		var m coldResult
		args := []string{"--tasks", strconv.Itoa(n), "--cold-cycles", strconv.Itoa(r.o.ColdCycles), "--cold-for", r.o.ColdFor.String(), "--cold-schedule", r.coldSchedule()}
		if r.o.Quick {
			args = append(args, "--quick")
		}
		if r.o.MemProfile != "" {
			args = append(args, "--memprofile", sizedPath(r.o.MemProfile, n))
		}
		if r.o.MemoryLimit != "" {
			args = append(args, "--memory-limit", r.o.MemoryLimit)
		}
		if err := r.childResult(ctx, ModeColdStart, args, &m); err != nil {
			errs = append(errs, fmt.Errorf("%d tasks: %w", n, err))
			continue
		}
		coldRows(t, m)
	}
	t.Print(r.out)
	return errors.Join(errs...)
}

func coldRows(t *Table, m coldResult) {
	label := fmt.Sprintf("%d tasks: ", m.Tasks)
	secs := func(v float64) string {
		if v < 0 {
			return "not by the end"
		}
		return Secs(Seconds(v))
	}
	t.Row(label+"time to coverage", secs(m.Coverage), "", "")
	within := 2 * Seconds(m.Interval) // two cycles
	t.Row(label+"change made 5 s after start: reported after", secs(m.Change), "within two cycles ("+Secs(within)+")", Met(m.Change >= 0 && Seconds(m.Change) <= within))
	target, ok := peakTarget(m.Tasks, m.Peak)
	t.Row(label+"peak RSS (VmHWM)", MB(m.Peak), target, ok)
	t.Row(label+"RSS at the end", MB(m.RSS), "", "")
	t.Row(label+"soft memory limit (memory_limit)", m.MemLimit, "", "")
	t.Row(label+"first cycle", Secs(Seconds(m.FirstLen)), "", "")
	t.Row(label+"cycles; ticks skipped (a cycle still running)", fmt.Sprintf("%d; %d", m.Cycles, m.Skipped), "", "")
	t.Row(label+"largest cycle's calls (Stats: detail calls + list pages) / budget", fmt.Sprintf("%d / %d", m.MaxCalls, m.Budget), "<= budget", Met(m.MaxCalls <= int64(m.Budget)))
	// The limiter lets a burst of one second's worth through on top of
	// the rate: over a short run that shows, so it is taken off.
	limit := config.Default().DCS.RateLimit
	t.Row(label+"API calls/s over the run (calls)", fmt.Sprintf("%s (%d)", Num(m.CallRate), m.Calls), fmt.Sprintf("<= %s after the limiter's burst of %s", Num(limit), Num(limit)),
		Met((float64(m.Calls)-limit)/m.Wall <= limit))
	t.Row(label+"oldest refresh at the last cycle", Secs(Seconds(m.Oldest)), "", "")
	t.Row(label+"run length; simulator start-up", fmt.Sprintf("%s; %s", Secs(Seconds(m.Wall)), Secs(Seconds(m.Ready))), "", "")
}

// applyMemoryLimit puts the watcher's memory_limit in force in this
// process, as `watcher run` does: --memory-limit, else def's.
func (r *runner) applyMemoryLimit(def config.Config) (memlimit.Applied, error) {
	n, err := config.ParseMemoryLimit(cmp.Or(r.o.MemoryLimit, def.MemoryLimit))
	if err != nil {
		return memlimit.Applied{}, fmt.Errorf("--memory-limit: %w", err)
	}
	return memlimit.Apply(n, os.Getenv, memlimit.Cgroup)
}
