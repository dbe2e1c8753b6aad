package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/bench"
	"github.com/dcs-watcher/watcher/internal/config"
)

// quickValues replace the defaults of the flags not given with --quick:
// every phase in seconds, for the test.
var quickValues = map[string]string{
	"raw-tasks": "1200", "tasks": "300", "for": "500ms", "cycles": "3",
	"latency-for": "2s", "budget-for": "2s", "memory-tasks": "0,300",
	"idle-tasks": "300", "idle-for": "1s", "burst": "5", "burst-status": "FAILED", "slack-wait": "90s",
	"cold-tasks": "300", "cold-cycles": "2", "cold-for": "60s", "cold-schedule": "@every 2s",
}

// parseBenchFlags reads the sizes and durations of every phase into the
// bench's options; the writers, logger and executable are cmdBench's.
func parseBenchFlags(env cmdEnv, args []string) (bench.Options, error) {
	fs := newFlags("bench", env)
	var o bench.Options
	only := fs.String("only", strings.Join(bench.Phases, ","), "phases to run, comma-separated: "+strings.Join(bench.Phases, ", "))
	fs.BoolVar(&o.Quick, "quick", false, "small sizes and short durations: seconds in all (what the test runs)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the fleets and their change plans")
	fs.IntVar(&o.RawTasks, "raw-tasks", 10000, "raw: tasks of the unchanged fleet")
	fs.IntVar(&o.Tasks, "tasks", 10000, "calls, latency, budget: tasks of the fleet")
	fs.IntVar(&o.Concurrency, "concurrency", config.Default().DCS.Concurrency, "dcs.concurrency, and the raw loop's workers")
	fs.DurationVar(&o.Measure, "for", 20*time.Second, "raw: length of each measurement")
	fs.IntVar(&o.Cycles, "cycles", 20, "calls: cycles measured per mode")
	fs.DurationVar(&o.Interval, "interval", time.Second, "calls, latency: poll interval (whole seconds)")
	fs.DurationVar(&o.LatencyFor, "latency-for", 60*time.Second, "latency: how long changes go on")
	fs.Float64Var(&o.ChangeRate, "change-rate", 5, "latency: status changes per second")
	fs.DurationVar(&o.BudgetFor, "budget-for", 60*time.Second, "budget: length of the measurement")
	fs.Float64Var(&o.BudgetRate, "budget-rate", 20, "budget: dcs.rate_limit, calls per second")
	fs.Float64Var(&o.BudgetChangeRate, "budget-change-rate", 1, "budget: status changes per second")
	mem := fs.String("memory-tasks", "0,1000,10000,100000", "memory: fleet sizes, each in a fresh process (0: baseline)")
	fs.IntVar(&o.IdleTasks, "idle-tasks", 1000, "idle: tasks of the fleet")
	fs.DurationVar(&o.IdleFor, "idle-for", 90*time.Second, "idle: length of the measurement per mode")
	fs.IntVar(&o.Burst, "burst", 1000, "slack: tasks changing status at the same instant")
	burstStatus := fs.String("burst-status", "FAILED,"+bench.BurstMixed, "slack: bursts to run: a status every task goes to, or "+bench.BurstMixed+" (each its own next status)")
	fs.DurationVar(&o.SlackWait, "slack-wait", 30*time.Minute, "slack: longest wait for the burst to reach Slack")
	cold := fs.String("cold-tasks", "10000,100000", "coldstart: fleet sizes, each in a fresh process")
	fs.IntVar(&o.ColdCycles, "cold-cycles", 4, "coldstart: cycles to run at least (after coverage and the change)")
	fs.DurationVar(&o.ColdFor, "cold-for", 6*time.Minute, "coldstart: longest run per size")
	fs.StringVar(&o.ColdSchedule, "cold-schedule", "", "coldstart: poll.schedule (default: the configuration's default)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the raw phase's watcher section to FILE")
	fs.StringVar(&o.MemProfile, "memprofile", "", "coldstart: write a heap profile of each size's run (allocations since the start, live objects at the end) to FILE, the size before its extension, and one at the fleet's coverage to FILE-covered")
	fs.StringVar(&o.MemoryLimit, "memory-limit", "", "coldstart: the watcher's memory_limit (auto, off or a size such as 300MiB; default: the configuration's default)")
	fs.BoolVar(&o.Verbose, "v", false, "log the watcher's warnings to stderr")
	fs.StringVar(&o.Detail, "detail", config.DetailOnChange, "idle-one: poll.detail")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if err := applyQuick(fs, o.Quick); err != nil {
		return o, err
	}
	var err error
	if o.Only, err = parsePhases(*only); err != nil {
		return o, usageError{err}
	}
	if o.MemoryTasks, err = parseSizes(*mem); err != nil {
		return o, usageError{fmt.Errorf("--memory-tasks: %w", err)}
	}
	if o.ColdTasks, err = parseSizes(*cold); err != nil {
		return o, usageError{fmt.Errorf("--cold-tasks: %w", err)}
	}
	o.BurstStatus = strings.Split(*burstStatus, ",")
	return o, validateBench(o)
}

func applyQuick(fs *flag.FlagSet, quick bool) error {
	if !quick {
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
		if !slices.Contains(bench.Phases, p) && p != bench.ModeMemory && p != bench.ModeIdle && p != bench.ModeColdStart {
			return nil, fmt.Errorf("--only: unknown phase %q (want %s)", p, strings.Join(bench.Phases, ", "))
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

func validateBench(o bench.Options) error {
	var errs []error
	if o.MemoryLimit != "" {
		if _, err := config.ParseMemoryLimit(o.MemoryLimit); err != nil {
			errs = append(errs, fmt.Errorf("--memory-limit: %w", err))
		}
	}
	if o.Tasks < 0 || o.Tasks == 0 && slices.ContainsFunc(o.Only, func(p string) bool { return p != bench.ModeMemory }) {
		// A memory-one child with 0 tasks is the baseline; any other phase
		// needs a fleet.
		errs = append(errs, errors.New("--tasks must be positive"))
	}
	positive := []struct {
		name string
		v    float64
	}{
		{"--raw-tasks", float64(o.RawTasks)}, {"--concurrency", float64(o.Concurrency)},
		{"--for", o.Measure.Seconds()}, {"--cycles", float64(o.Cycles)}, {"--latency-for", o.LatencyFor.Seconds()},
		{"--change-rate", o.ChangeRate}, {"--budget-for", o.BudgetFor.Seconds()}, {"--budget-rate", o.BudgetRate},
		{"--budget-change-rate", o.BudgetChangeRate}, {"--idle-tasks", float64(o.IdleTasks)}, {"--idle-for", o.IdleFor.Seconds()},
		{"--burst", float64(o.Burst)}, {"--slack-wait", o.SlackWait.Seconds()},
		{"--cold-cycles", float64(o.ColdCycles)}, {"--cold-for", o.ColdFor.Seconds()},
	}
	for _, p := range positive {
		if !(p.v > 0) || math.IsInf(p.v, 0) {
			errs = append(errs, fmt.Errorf("%s must be positive", p.name))
		}
	}
	if o.Interval < time.Second || o.Interval%time.Second != 0 {
		errs = append(errs, errors.New("--interval must be whole seconds, at least 1s (the scheduler's unit)"))
	}
	for _, st := range o.BurstStatus {
		if st == "" || strings.TrimSpace(st) != st {
			errs = append(errs, fmt.Errorf("--burst-status: %q is not a status", st))
		}
	}
	if o.Detail != config.DetailOnChange && o.Detail != config.DetailEveryCycle {
		errs = append(errs, fmt.Errorf("--detail must be %s or %s", config.DetailOnChange, config.DetailEveryCycle))
	}
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

// cmdBench runs the benchmark phases and prints a report on stdout. The
// simulator and the memory and idle measurements run in children of this
// binary: `simulate --fleet ...` and `bench --only memory-one ...`.
func cmdBench(ctx context.Context, env cmdEnv, args []string) error {
	o, err := parseBenchFlags(env, args)
	if err != nil {
		return err
	}
	if o.Executable, err = os.Executable(); err != nil {
		return fmt.Errorf("bench: the binary to run the children with: %w", err)
	}
	stderr := &lockedWriter{w: env.stderr} // the children and the logger write to it at once
	o.Args, o.Stdout, o.Stderr = args, env.stdout, stderr
	o.Logger = zerolog.Nop()
	if o.Verbose {
		o.Logger = newLogger(config.LogConfig{Level: "warn", Format: "console"}, stderr)
	}
	return bench.Run(ctx, o)
}
