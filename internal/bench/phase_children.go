package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/retry"
	"github.com/dcs-watcher/watcher/internal/sim"
)

// ---- e. memory per watched task ----

// discovered starts a simulator of an unchanging fleet of n tasks and a
// watcher in the given detail mode, and runs the discovery cycle: where
// the memory and idle children start. The caller stops both.
func (r *runner) discovered(ctx context.Context, n int, detail string) (*simChild, *watcher, time.Duration, error) {
	s, err := r.startSim(ctx, sim.FleetOptions{Tasks: n, Seed: r.o.Seed})
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
	Peak      int64   `json:"peak_rss"` // VmHWM: the most the process held, discovery included
	Heap      uint64  `json:"heap"`
	Discovery float64 `json:"discovery_seconds"`
}

// memoryOne is the memory phase's child: a fresh process (so RSS is this
// fleet's alone) discovers --tasks tasks in on_change mode, runs three
// more cycles and prints RSS and the Go heap in use.
func (r *runner) memoryOne(ctx context.Context) error {
	s, wt, took, err := r.discovered(ctx, r.o.Tasks, config.DetailOnChange)
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
	heap := HeapInUse()
	rss, err := RSS()
	if err != nil {
		return err
	}
	peak, err := PeakRSS()
	if err != nil {
		return err
	}
	return printResult(r.out, memoryResult{Tasks: r.o.Tasks, RSS: rss, Peak: peak, Heap: heap, Discovery: took.Seconds()})
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
func (r *runner) childResult(ctx context.Context, mode string, args []string, v any) error {
	full := append([]string{"bench", "--only", mode, "--seed", strconv.FormatUint(r.o.Seed, 10),
		"--concurrency", strconv.Itoa(r.o.Concurrency)}, args...)
	if r.o.Verbose {
		full = append(full, "-v")
	}
	c, err := StartChild(ctx, ChildOptions{Path: r.o.Executable, Args: full, Stderr: r.o.Stderr})
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

func (r *runner) phaseMemory(ctx context.Context) error {
	t := &Table{Title: "e. Memory per watched task"}
	t.Note("Each size in a fresh process (`watcher bench --only %s --tasks N`): on_change mode, discovery plus 3 cycles (no rate limit: discovery calls every task at once), then peak RSS (VmHWM: the most the process held, discovery included), RSS (VmRSS) and the Go heap in use (runtime/metrics %q after runtime.GC). The process holds the watcher and its embedded NATS (JetStream stream and KV on disk, in memory what they cache); the simulator is another process.", ModeMemory, "/memory/classes/heap/objects:bytes")
	var base *memoryResult
	for _, n := range r.o.MemoryTasks {
		var m memoryResult
		if err := r.childResult(ctx, ModeMemory, []string{"--tasks", strconv.Itoa(n)}, &m); err != nil {
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

// peakTarget is the peak RSS target at a fleet size, and whether
// peak meets it; none for other sizes.
func peakTarget(tasks int, peak int64) (target, ok string) {
	switch tasks {
	case 10000:
		return "<= 150 MB", Met(peak <= 150e6)
	case 100000:
		return "<= 400 MB", Met(peak <= 400e6)
	}
	return "", ""
}

func memoryRows(t *Table, m memoryResult, base *memoryResult) {
	label := fmt.Sprintf("%d tasks: ", m.Tasks)
	target, ok := peakTarget(m.Tasks, m.Peak)
	t.Row(label+"peak RSS (VmHWM)", MB(m.Peak), target, ok)
	t.Row(label+"RSS", MB(m.RSS), "", "")
	t.Row(label+"Go heap in use", MB(int64(m.Heap)), "", "")
	if m.Tasks == 0 {
		return
	}
	t.Row(label+"RSS per task", KB(float64(m.RSS)/float64(m.Tasks)), "", "")
	t.Row(label+"heap per task", KB(float64(m.Heap)/float64(m.Tasks)), "", "")
	if base != nil {
		t.Row(label+"(RSS - baseline) per task", KB(float64(m.RSS-base.RSS)/float64(m.Tasks)), "", "")
		t.Row(label+"(heap - baseline) per task", KB((float64(m.Heap)-float64(base.Heap))/float64(m.Tasks)), "", "")
	}
	t.Row(label+"discovery cycle", Secs(Seconds(m.Discovery)), "", "")
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
func (r *runner) idleOne(ctx context.Context) error {
	s, wt, _, err := r.discovered(ctx, r.o.IdleTasks, r.o.Detail)
	if err != nil {
		return err
	}
	defer s.Stop()
	defer wt.Stop()
	c0, err := s.calls(ctx)
	if err != nil {
		return err
	}
	cpu0, _ := CPUTime()
	t0 := time.Now()
	stop := runPoller(ctx, wt, "@every 30s")
	err = retry.SleepUntil(ctx, t0.Add(r.o.IdleFor))
	stop()
	wall := time.Since(t0)
	cpu1, _ := CPUTime()
	c1, cerr := s.calls(ctx)
	if err = errors.Join(err, cerr); err != nil {
		return err
	}
	d := CallsDelta(c0, c1)
	return printResult(r.out, idleResult{Tasks: r.o.IdleTasks, Detail: r.o.Detail, CPU: (cpu1 - cpu0).Seconds(),
		Wall: wall.Seconds(), Cycles: len(wt.cycles.snapshot()), Calls: d.List + d.Detail})
}

func (r *runner) phaseIdle(ctx context.Context) error {
	t := &Table{Title: "f. Idle CPU"}
	t.Note("%d unchanging tasks, poller.Run on \"@every 30s\" for %s after discovery, each mode in a fresh process (`watcher bench --only %s`); CPU %% of one core = getrusage user+sys / wall time, the embedded NATS included, Slack off.", r.o.IdleTasks, r.o.IdleFor, ModeIdle)
	for _, mode := range []string{config.DetailEveryCycle, config.DetailOnChange} {
		var res idleResult
		args := []string{"--idle-tasks", strconv.Itoa(r.o.IdleTasks), "--idle-for", r.o.IdleFor.String(), "--detail", mode}
		if err := r.childResult(ctx, ModeIdle, args, &res); err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		share := res.CPU / res.Wall
		target, ok := "", ""
		if res.Tasks == 1000 {
			target, ok = "< 1% (1,000 tasks, 30 s)", Met(share < 0.01)
		}
		t.Row(mode+": CPU % of one core", Pct(share), target, ok)
		t.Row(mode+": CPU s / wall s", fmt.Sprintf("%.3f / %.1f", res.CPU, res.Wall), "", "")
		t.Row(mode+": cycles, API calls", fmt.Sprintf("%d, %d", res.Cycles, res.Calls), "", "")
	}
	t.Print(r.out)
	return nil
}
