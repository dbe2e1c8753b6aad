package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/retry"
	"github.com/dcs-watcher/watcher/internal/sim"
)

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
	matched  Matched
	start    time.Time // scenario time zero
	end      time.Time // end of the measurement
	warmup   time.Duration
	ready    time.Duration // when the measured watcher polled, from time zero
	cycles   Summary
	nCycles  int
	overran  bool
	apiCalls sim.Calls
}

// warmup is how long after time zero the changes start: enough for the
// simulator child to start and the watcher to discover the fleet.
func (r *runner) warmup(n int, twice bool) time.Duration {
	d := 5*time.Second + time.Duration(n)*1500*time.Microsecond
	if twice {
		d += 3*time.Second + time.Duration(n)*300*time.Microsecond // restart: NATS and KV load
	}
	if r.o.Quick {
		d = 1500*time.Millisecond + time.Duration(n)*3*time.Millisecond
	}
	return d.Round(100 * time.Millisecond)
}

func (r *runner) measureLatency(ctx context.Context, ls latencySpec) (latencyResult, error) {
	res := latencyResult{spec: ls, warmup: r.warmup(ls.tasks, ls.warmTwice)}
	fo := sim.FleetOptions{Tasks: ls.tasks, Seed: r.o.Seed, ChangeRate: ls.rate,
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
	obs, err := Observe(ctx, wt.Broker.JS, wt.cfg.NATS.Stream, filter)
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
	stop := runPoller(ctx, wt, "@every "+r.o.Interval.String())
	err = waitDetections(ctx, obs, len(res.planned), s.start.Add(res.warmup+ls.length), ls.tail)
	res.end = time.Now()
	stop()
	c1, cerr := s.calls(ctx)
	res.apiCalls = CallsDelta(c0, c1)
	res.matched = MatchChanges(res.planned, s.start, obs.Observations())
	res.cycles, res.nCycles = wt.cycles.durations(), len(wt.cycles.snapshot())
	return res, errors.Join(err, cerr)
}

// waitDetections waits until the last change is due, then until as many
// events as planned changes have come or tail has passed.
func waitDetections(ctx context.Context, obs *Observer, planned int, last time.Time, tail time.Duration) error {
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
func (r *runner) warmWatcher(ctx context.Context, s *simChild, ls latencySpec) (*watcher, error) {
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

func (r *runner) phaseLatency(ctx context.Context) error {
	n, iv := r.o.Tasks, r.o.Interval
	target := iv + 250*time.Millisecond
	t := &Table{Title: "c. Detection latency"}
	t.Note("%d tasks; poller.Run on \"@every %s\"; %s status changes/s at random times for %s, after the watcher discovered the fleet; client-side rate limit lifted.", n, iv, Num(r.o.ChangeRate), r.o.LatencyFor)
	t.Note("Latency = the time JetStream stored the status_changed event (message metadata, read by an ordered consumer) - the planned change time (the simulator's time zero + the change's offset); events matched to changes by task id and new status.")
	for _, mode := range []string{config.DetailEveryCycle, config.DetailOnChange} {
		// Up to 30 s for the last detections: per-task polling's cycle may
		// be far longer than the interval.
		res, err := r.measureLatency(ctx, latencySpec{tasks: n, mode: mode, rate: r.o.ChangeRate, length: r.o.LatencyFor, tail: 30 * time.Second})
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		latencyRows(t, res, target)
	}
	t.Print(r.out)
	return nil
}

func latencyRows(t *Table, res latencyResult, target time.Duration) {
	mode := res.spec.mode
	sum := Percentiles(res.matched.Latencies())
	planned := len(res.planned)
	detected := len(res.matched.Detected)
	t.Row(mode+": detected / planned", fmt.Sprintf("%d / %d", detected, planned), "all", Met(detected == planned))
	t.Row(mode+": latency p50", Secs(sum.P50), "", "")
	t.Row(mode+": latency p99", Secs(sum.P99), "<= interval + 250 ms = "+Secs(target), Met(detected == planned && sum.P99 <= target))
	t.Row(mode+": latency max", Secs(sum.Max), "", "")
	t.Row(mode+": cycles (median / max duration)", fmt.Sprintf("%d (%s / %s)", res.nCycles, Secs(res.cycles.P50), Secs(res.cycles.Max)), "", "")
	if res.matched.Unplanned > 0 {
		t.Note("%s: %d status_changed events matched no planned change.", mode, res.matched.Unplanned)
	}
	if res.overran {
		t.Note("%s: the watcher was ready %s after time zero, after the changes began (%s): the first changes' latencies include the warm-up.", mode, Secs(res.ready), Secs(res.warmup))
	}
}

func (r *runner) phaseBudget(ctx context.Context) error {
	n, limit := r.o.Tasks, r.o.BudgetRate
	t := &Table{Title: fmt.Sprintf("d. Detection latency under a fixed API budget (%s calls/s)", Num(limit))}
	tail := 5 * time.Second
	if r.o.Quick {
		tail = 2 * time.Second
	}
	t.Note("%d tasks; snapshots first warmed up by a watcher without a rate limit, which is then closed; a watcher with dcs.rate_limit %s on the same data dir (state from KV) runs poller.Run on \"@every %s\" for %s with %s status changes/s; detections counted until %s after the last change.", n, Num(limit), r.o.Interval, r.o.BudgetFor, Num(r.o.BudgetChangeRate), tail)
	t.Note("A change not detected by the end counts with its age at the end: the percentiles are then lower bounds (>=). poll.refresh_active at its default (%s). The limiter allows a burst of one second's worth (%s calls) on top of the rate, which shows in a short measurement.", config.Default().Poll.RefreshActive, Num(limit))
	for _, mode := range []string{config.DetailEveryCycle, config.DetailOnChange} {
		res, err := r.measureLatency(ctx, latencySpec{tasks: n, mode: mode, rate: r.o.BudgetChangeRate,
			length: r.o.BudgetFor, limit: limit, tail: tail, warmTwice: true})
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		budgetRows(t, res, n, limit)
	}
	t.Print(r.out)
	return nil
}

func budgetRows(t *Table, res latencyResult, n int, limit float64) {
	mode := res.spec.mode
	lats := res.matched.Latencies()
	for _, c := range res.matched.Missing {
		lats = append(lats, res.end.Sub(res.start.Add(c.At)))
	}
	sum := Percentiles(lats)
	bound := ""
	if len(res.matched.Missing) > 0 {
		bound = ">= "
	}
	detected, planned := len(res.matched.Detected), len(res.planned)
	calls := float64(res.apiCalls.List + res.apiCalls.Detail)
	t.Row(mode+": detected / planned", fmt.Sprintf("%d / %d", detected, planned), "", "")
	t.Row(mode+": latency p50", bound+Secs(sum.P50), "", "")
	if mode == config.DetailOnChange {
		t.Row(mode+": latency p99", bound+Secs(sum.P99), "< 5 s", Met(bound == "" && sum.P99 < 5*time.Second))
		t.Row(mode+": cycle length implied by the budget", fmt.Sprintf("ceil(N/1000)/%s = %s + detail calls", Num(limit), Secs(Seconds(float64(pages(n))/limit))), "", "")
	} else {
		cycle := Seconds(float64(n+pages(n)) / limit)
		t.Row(mode+": latency p99", bound+Secs(sum.P99), "> "+Secs(cycle)+" expected (a cycle's length)", "")
		t.Row(mode+": cycle length implied by the budget", fmt.Sprintf("(N + ceil(N/1000))/%s = %s", Num(limit), Secs(cycle)), "", "")
	}
	t.Row(mode+": latency max", bound+Secs(sum.Max), "", "")
	t.Row(mode+": API calls/s while measuring", Num(calls/res.end.Sub(res.start.Add(res.ready)).Seconds()), "", "")
	if res.overran {
		t.Note("%s: the watcher was ready %s after time zero, after the changes began (%s).", mode, Secs(res.ready), Secs(res.warmup))
	}
}
