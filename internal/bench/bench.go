package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Credentials of the bench's simulators: every request is signed and
// checked, as against the real API. They are bench-only and never printed;
// exported for the test that checks the report does not hold them.
const (
	SimAK = "BENCHACCESSKEY000000"
	SimSK = "bench-secret-key-not-a-real-one"
)

// unlimitedRate lifts the client-side rate limit where the bench measures
// what the pipeline itself can do; config allows it for a loopback simulator.
const unlimitedRate = 1e6

// The phases, in the order they run; memory-one and idle-one are the
// hidden modes the memory and idle phases run in fresh child processes
// (`watcher bench --only memory-one ...`).
const (
	PhaseRaw      = "raw"
	PhaseCalls    = "calls"
	PhaseLatency  = "latency"
	PhaseBudget   = "budget"
	PhaseMemory   = "memory"
	PhaseIdle     = "idle"
	PhaseSlack    = "slack"
	PhaseCold     = "coldstart"
	ModeMemory    = "memory-one"
	ModeIdle      = "idle-one"
	ModeColdStart = "coldstart-one"
)

// Phases lists the phases a full bench runs, in order.
var Phases = []string{PhaseRaw, PhaseCalls, PhaseLatency, PhaseBudget, PhaseMemory, PhaseIdle, PhaseSlack, PhaseCold}

// BurstMixed names the Slack burst in which each task goes to its own next
// status, so that like statuses are interleaved in the stream.
const BurstMixed = "mixed"

// resultPrefix starts the line on which a child mode prints its result.
const resultPrefix = "BENCH-RESULT "

// Options are one run of the bench: the sizes and durations of every phase
// (what the `watcher bench` flags set; the command validates them), where
// the report goes, and how to start the children.
type Options struct {
	Only             []string      // phases to run, in order; or one of ModeMemory, ModeIdle alone
	Quick            bool          // small sizes: shorter warm-ups and tails too
	Seed             uint64        // of the fleets and their change plans
	RawTasks         int           // raw: tasks of the unchanged fleet
	Tasks            int           // calls, latency, budget, memory-one: tasks of the fleet
	Concurrency      int           // dcs.concurrency, and the raw loop's workers
	Measure          time.Duration // raw: length of each measurement (--for)
	Cycles           int           // calls: cycles measured per mode
	Interval         time.Duration // calls, latency: poll interval, whole seconds
	LatencyFor       time.Duration // latency: how long changes go on
	ChangeRate       float64       // latency: status changes per second
	BudgetFor        time.Duration // budget: length of the measurement
	BudgetRate       float64       // budget: dcs.rate_limit, calls per second
	BudgetChangeRate float64       // budget: status changes per second
	MemoryTasks      []int         // memory: fleet sizes, each in a fresh process (0: baseline)
	IdleTasks        int           // idle: tasks of the fleet
	IdleFor          time.Duration // idle: length of the measurement per mode
	Detail           string        // idle-one: poll.detail
	Burst            int           // slack: tasks changing status at one instant
	BurstStatus      []string      // slack: a burst per status, or BurstMixed
	SlackWait        time.Duration // slack: longest wait for a burst to reach Slack
	ColdTasks        []int         // coldstart: fleet sizes, each in a fresh process
	ColdCycles       int           // coldstart: cycles to run at least
	ColdFor          time.Duration // coldstart: longest run per size
	ColdSchedule     string        // coldstart: poll.schedule; empty: the default
	CPUProfile       string        // raw: CPU profile of the watcher section to this file
	MemProfile       string        // coldstart: heap profile of each size's run to this file, "-<tasks>" before its extension
	MemoryLimit      string        // coldstart: the watcher's memory_limit; "": the default's
	Verbose          bool          // passed on to the children as -v; Logger is this process's

	// Args is the command line after `watcher bench`, for the report.
	Args []string
	// Stdout takes the report (a child's: its result line).
	Stdout io.Writer
	// Stderr takes the children's stderr. Children and Logger write to it
	// at the same time: it must be safe for concurrent use.
	Stderr io.Writer
	// Logger is the log of the watchers under test.
	Logger zerolog.Logger
	// Executable is the watcher binary the children run: `simulate --fleet
	// ...` serves a fleet, `bench --only memory-one ...` and `bench --only
	// idle-one ...` measure in a fresh process.
	Executable string
}

// Run runs the phases of o.Only and prints a report on o.Stdout; or, when
// o.Only is one child mode, that child's measurement and its result line.
// A failed phase is reported and the next one runs; the error joins them.
func Run(ctx context.Context, o Options) error {
	if o.Executable == "" {
		return errors.New("bench: no executable for the simulator and measurement children")
	}
	root, err := os.MkdirTemp("", "watcher-bench-")
	if err != nil {
		return fmt.Errorf("bench: scratch dir: %w", err)
	}
	defer os.RemoveAll(root)
	r := &runner{o: o, out: o.Stdout, root: root}
	switch {
	case slices.Equal(o.Only, []string{ModeMemory}):
		return r.memoryOne(ctx)
	case slices.Equal(o.Only, []string{ModeIdle}):
		return r.idleOne(ctx)
	case slices.Equal(o.Only, []string{ModeColdStart}):
		return r.coldOne(ctx)
	}
	r.header()
	var errs []error
	for _, p := range o.Only {
		t0 := time.Now()
		err := r.phase(ctx, p)
		fmt.Fprintf(r.out, "\n(phase %s: %s%s)\n", p, Secs(time.Since(t0)), loadNote())
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

// runner is one run of the bench: its options, output and scratch space.
type runner struct {
	o    Options
	out  io.Writer // o.Stdout
	root string    // temp dir holding every watcher's data dir
}

func (r *runner) header() {
	m := ThisMachine()
	fmt.Fprintf(r.out, "# watcher bench\n\n")
	fmt.Fprintf(r.out, "- command: `%s`\n", strings.Join(append([]string{"watcher", "bench"}, r.o.Args...), " "))
	fmt.Fprintf(r.out, "- machine: %s/%s, %d CPUs (runtime.NumCPU), GOMAXPROCS %d, MemTotal %s, %s\n",
		m.OS, m.Arch, m.NumCPU, m.GOMAXPROCS, GiB(m.MemTotal), m.GoVersion)
	fmt.Fprintf(r.out, "- started: %s%s\n", time.Now().UTC().Format(time.RFC3339), loadNote())
	fmt.Fprintf(r.out, "- the DCS simulator runs in a child process (signed requests checked); CPU and memory figures are this process's: the watcher pipeline and its embedded NATS\n")
}

// loadNote reports the machine's load, so that a reader can tell a phase
// that shared the CPUs with something else.
func loadNote() string {
	l, err := LoadAvg()
	if err != nil {
		return ""
	}
	return fmt.Sprintf("; load average over the last minute %.2f on %d CPUs", l, runtime.NumCPU())
}

// phaseFuncs measure the phases of Phases.
var phaseFuncs = map[string]func(*runner, context.Context) error{
	PhaseRaw: (*runner).phaseRaw, PhaseCalls: (*runner).phaseCalls,
	PhaseLatency: (*runner).phaseLatency, PhaseBudget: (*runner).phaseBudget,
	PhaseMemory: (*runner).phaseMemory, PhaseIdle: (*runner).phaseIdle,
	PhaseSlack: (*runner).phaseSlack, PhaseCold: (*runner).phaseColdStart,
}

func (r *runner) phase(ctx context.Context, name string) error {
	if f, ok := phaseFuncs[name]; ok {
		return f(r, ctx)
	}
	return fmt.Errorf("phase %s runs only on its own (--only %s)", name, name)
}
