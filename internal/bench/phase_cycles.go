package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/sim"
)

// ---- a. raw loop vs watcher on an unchanged fleet ----

func (r *runner) phaseRaw(ctx context.Context) error {
	n := r.o.RawTasks
	fo := sim.FleetOptions{Tasks: n, Seed: r.o.Seed}
	s, err := r.startSim(ctx, fo)
	if err != nil {
		return err
	}
	defer s.Stop()
	ids := fleetIDs(fo)
	ro := RawOptions{Target: s.target(), Concurrency: r.o.Concurrency, Duration: r.o.Measure}
	rawD, err := RawDetail(ctx, ro, ids)
	if err != nil {
		return err
	}
	rawL, err := RawList(ctx, ro, n)
	if err != nil {
		return err
	}
	// Like for like with the raw loop first: the same ids, detail calls
	// only. Then as a fleet is watched, with the list every cycle.
	idsRun, err := r.measureCycles(ctx, s, watchSpec{detail: config.DetailEveryCycle, taskIDs: ids},
		loopSpec{length: r.o.Measure, profile: r.o.CPUProfile})
	if err != nil {
		return fmt.Errorf("every_cycle, configured ids: %w", err)
	}
	every, err := r.measureCycles(ctx, s, watchSpec{detail: config.DetailEveryCycle},
		loopSpec{length: r.o.Measure})
	if err != nil {
		return fmt.Errorf("every_cycle: %w", err)
	}
	// A refresh period far beyond the run: no refresh falls due, so every
	// detail call would be one the unchanged fleet did not need.
	const noRefresh = 10000 * time.Hour
	onch, err := r.measureCycles(ctx, s, watchSpec{detail: config.DetailOnChange, refreshActive: noRefresh},
		loopSpec{length: r.o.Measure})
	if err != nil {
		return fmt.Errorf("on_change: %w", err)
	}
	// The raw loop again: the machine's pace may drift over a phase, so
	// the watcher is compared with the mean of the runs before and after.
	rawD2, err := RawDetail(ctx, ro, ids)
	if err != nil {
		return err
	}
	rawD = MeanRaw(rawD, rawD2)
	t := rawTable(n, r.o, rawD, rawL, idsRun, every, onch, noRefresh)
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

func rawTable(n int, o Options, rawD, rawL RawResult, ids, every, onch cycleRun, noRefresh time.Duration) *Table {
	t := &Table{Title: "a. Unchanged fleet: the watcher against the raw loop"}
	t.Note("%d tasks, none changing; dcs.concurrency %d; client-side rate limit lifted; %s per measurement.", n, o.Concurrency, o.Measure)
	t.Note("Raw loop: %d workers, one keep-alive client, each call signed (dcs.Sign) and its JSON decoded into a typed struct; detail GETs round robin over the fleet, list pages of %d.", o.Concurrency, dcs.MaxListLimit)
	t.Note("Watcher: the real pipeline (start: DCS client, poller, embedded NATS, KV); after the discovery cycle and one more, Cycle back to back. Tasks polled = successful detail calls (Stats.Fetched); rows checked = listed tasks compared (Stats.Tasks); the watcher reads list pages one after another, the raw list loop with %d workers. CPU = getrusage user+sys of this process over the measurement. API calls from the simulator's counters.", o.Concurrency)
	t.Note("The raw detail loop runs before and after the watcher's measurements; its figures are the mean of the two. \"every_cycle, ids\" watches the fleet's ids as poll.task_ids (no list call): the raw loop's job. \"every_cycle\" discovers the fleet with the list call each cycle, %d pages read one after another before the detail calls start.", pages(n))
	rawRate := rawD.CallsPerSecond()
	idsPolled := PerSec(int64(ids.sum.Fetched), ids.elapsed)
	idsRatio := idsPolled / rawRate
	polled := PerSec(int64(every.sum.Fetched), every.elapsed)
	ratio := polled / rawRate
	t.Row("raw loop: detail GETs/s", Rate(rawRate), "", "")
	t.Row("raw loop: CPU s per 1,000 GETs (client side)", CPUPer1000(rawD.CPU, rawD.Calls), "", "")
	t.Row("every_cycle, ids: tasks polled/s", Rate(idsPolled), fmt.Sprintf(">= 80%% of raw (%s)", Rate(0.8*rawRate)), Met(idsRatio >= 0.8))
	t.Row("every_cycle, ids: watcher / raw", Pct(idsRatio), ">= 80%", Met(idsRatio >= 0.8))
	t.Row("every_cycle, ids: CPU s per 1,000 polls", CPUPer1000(ids.cpu, int64(ids.sum.Fetched)), "", "")
	t.Row("every_cycle, ids: KV writes after discovery", strconv.Itoa(ids.sum.Writes), "0", Met(ids.sum.Writes == 0))
	t.Row("every_cycle, ids: API calls per cycle", Num(ids.perCycle(ids.calls.List+ids.calls.Detail)), fmt.Sprintf("N = %d", n), "")
	t.Row("every_cycle: discovery cycle", Secs(every.discovery), "", "")
	t.Row("every_cycle: tasks polled/s", Rate(polled), "", "")
	t.Row("every_cycle: watcher / raw", Pct(ratio), "", "")
	t.Row("every_cycle: CPU s per 1,000 polls", CPUPer1000(every.cpu, int64(every.sum.Fetched)), "", "")
	t.Row("every_cycle: cycles measured", strconv.Itoa(every.cycles), "", "")
	t.Row("every_cycle: KV writes after discovery", strconv.Itoa(every.sum.Writes), "0", Met(every.sum.Writes == 0))
	t.Row("every_cycle: events after discovery", strconv.Itoa(every.sum.Events), "0", Met(every.sum.Events == 0))
	t.Row("every_cycle: list calls per cycle", Num(every.perCycle(every.calls.List)), fmt.Sprintf("ceil(N/1000) = %d", pages(n)), "")
	t.Row("every_cycle: detail calls per cycle", Num(every.perCycle(every.calls.Detail)), fmt.Sprintf("N = %d", n), "")
	t.Row("raw loop: list rows/s", Rate(rawL.ItemsPerSecond()), "", "")
	checked := PerSec(int64(onch.sum.Tasks), onch.elapsed)
	t.Row("on_change: discovery cycle", Secs(onch.discovery), "", "")
	t.Row("on_change: rows checked/s", Rate(checked), "", "")
	t.Row("on_change: watcher / raw list", Pct(checked/rawL.ItemsPerSecond()), "", "")
	t.Row("on_change: CPU s per 1,000 rows checked", CPUPer1000(onch.cpu, int64(onch.sum.Tasks)), "", "")
	t.Row("on_change: cycles measured", strconv.Itoa(onch.cycles), "", "")
	t.Row("on_change: KV writes after discovery", strconv.Itoa(onch.sum.Writes), "0", Met(onch.sum.Writes == 0))
	listPer, detailPer := onch.perCycle(onch.calls.List), onch.perCycle(onch.calls.Detail)
	t.Row("on_change: list calls per cycle", Num(listPer), fmt.Sprintf("ceil(N/1000) = %d", pages(n)), Met(listPer == float64(pages(n))))
	t.Row("on_change: detail calls per cycle", Num(detailPer), fmt.Sprintf("refreshes due: 0 (poll.refresh_active %s)", noRefresh), Met(detailPer == 0))
	if c := every.calls.AuthFailures + onch.calls.AuthFailures; c > 0 {
		t.Note("WARNING: %d calls were refused by the simulator's signature check.", c)
	}
	return t
}

// ---- b. API calls per cycle with 1% of the fleet changing per cycle ----

func (r *runner) phaseCalls(ctx context.Context) error {
	n, iv := r.o.Tasks, r.o.Interval
	refresh := 120 * iv
	t := &Table{Title: "b. API calls per cycle, 1% of the tasks changing per cycle"}
	t.Note("%d tasks; status changes at %s/s (1%% of the tasks per %s interval) at random times on random tasks; one Cycle per tick of %s (back to back when a cycle outlasts the interval), %d cycles measured after discovery and one catch-up cycle.", n, Num(0.01*float64(n)/iv.Seconds()), iv, iv, r.o.Cycles)
	t.Note("poll.refresh_active = 120 x interval = %s: the refresh share per cycle of the default (1h at a 30 s schedule). Calls from the simulator's counters; events and KV writes from the poller's stats.", refresh)
	t.Note("Stats calls (the progress of the active tasks, poll.stats_every 0) from the poller's stats, answered and failed, next to the list and detail calls (the ratio compares those, without the stats calls, which are one per active task per cycle in both modes when the rate is lifted). \"auto\" runs with dcs.rate_limit %s (--budget-rate) on the same interval: its budget is rate x 90%% of the interval per cycle.", Num(r.o.BudgetRate))
	var total [2]float64
	for i, mode := range []string{config.DetailEveryCycle, config.DetailOnChange} {
		res, err := r.callsOnce(ctx, n, mode, refresh, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		stats := int64(res.sum.StatsCalls + res.sum.StatsFailed)
		total[i] = res.perCycle(res.calls.List + res.calls.Detail)
		t.Row(mode+": list calls per cycle", Num(res.perCycle(res.calls.List)), "", "")
		t.Row(mode+": detail calls per cycle", Num(res.perCycle(res.calls.Detail)), "", "")
		t.Row(mode+": API calls per cycle (list and detail)", Num(total[i]), "", "")
		t.Row(mode+": stats calls per cycle", Num(res.perCycle(stats)), "", "")
		t.Row(mode+": events per cycle", Num(res.perCycle(int64(res.sum.Events))), "", "")
		t.Row(mode+": KV writes per cycle", Num(res.perCycle(int64(res.sum.Writes))), "", "")
		t.Row(mode+": mean cycle time", Secs(res.sum.Duration/time.Duration(max(res.cycles, 1))), "", "")
	}
	ratio := total[1] / total[0]
	t.Row("on_change / every_cycle, API calls", Pct(ratio), "<= 2%", Met(ratio <= 0.02))
	if err := r.callsAuto(ctx, t, n, refresh); err != nil {
		return fmt.Errorf("%s: %w", config.DetailAuto, err)
	}
	t.Print(r.out)
	return nil
}

// callsAuto adds the rows of poll.detail auto under --budget-rate: the
// calls of each class per cycle, from the poller's own stats, and whether
// they stayed within the budget. The budget needs the schedule's interval,
// so the poller runs on its schedule (poller.Run), not cycle by cycle; the
// first two cycles (discovery and the catch-up) are not measured.
func (r *runner) callsAuto(ctx context.Context, t *Table, n int, refresh time.Duration) error {
	iv := r.o.Interval
	span := 60*time.Second + time.Duration(r.o.Cycles)*iv*4 + time.Duration(n)*time.Millisecond
	fo := sim.FleetOptions{Tasks: n, Seed: r.o.Seed, ChangeRate: 0.01 * float64(n) / iv.Seconds(), ChangeTo: span}
	s, err := r.startSim(ctx, fo)
	if err != nil {
		return err
	}
	defer s.Stop()
	wt, err := r.startWatcher(ctx, s, watchSpec{detail: config.DetailAuto, refreshActive: refresh,
		rateLimit: r.o.BudgetRate, schedule: "@every " + iv.String()})
	if err != nil {
		return err
	}
	defer wt.Stop()
	stop := runPoller(ctx, wt, wt.cfg.Poll.Schedule)
	wctx, cancel := context.WithTimeout(ctx, time.Duration(r.o.Cycles+2)*(iv+10*time.Second)+2*time.Minute)
	defer cancel()
	for len(wt.cycles.snapshot()) < r.o.Cycles+2 && wctx.Err() == nil {
		select {
		case <-wctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	stop()
	all := wt.cycles.snapshot()
	if len(all) < r.o.Cycles+2 {
		return fmt.Errorf("%d cycles ran, want %d", len(all), r.o.Cycles+2)
	}
	var sum poller.Stats
	cycles := 0
	for _, st := range all[2 : r.o.Cycles+2] {
		if !st.Skipped {
			sum.Add(st)
			cycles++
		}
	}
	per := func(v int) float64 { return float64(v) / float64(max(cycles, 1)) }
	mode := config.DetailAuto
	stats := sum.StatsCalls + sum.StatsFailed
	calls := per(pages(n)*cycles + sum.Fetched + sum.Failed + stats)
	budget := per(sum.Budget)
	t.Row(mode+": cycles measured (not paused)", strconv.Itoa(cycles), "", "")
	t.Row(mode+": budget per cycle", Num(budget), "", "")
	t.Row(mode+": list calls per cycle", Num(float64(pages(n))), "", "")
	t.Row(mode+": detail calls per cycle", Num(per(sum.Fetched+sum.Failed)), "", "")
	t.Row(mode+": stats calls per cycle", Num(per(stats)), "", "")
	t.Row(mode+": stats calls failed per cycle", Num(per(sum.StatsFailed)), "", "")
	t.Row(mode+": API calls per cycle", Num(calls), "<= budget", Met(calls <= budget))
	t.Row(mode+": events per cycle", Num(per(sum.Events)), "", "")
	t.Row(mode+": mean cycle time", Secs(sum.Duration/time.Duration(max(cycles, 1))), "", "")
	return nil
}

// callsOnce measures mode on a fleet with 1% changing per cycle; limit is
// dcs.rate_limit (0: lifted).
func (r *runner) callsOnce(ctx context.Context, n int, mode string, refresh time.Duration, limit float64) (cycleRun, error) {
	iv := r.o.Interval
	// Changes from the start, for longer than discovery and the measured
	// cycles can take: each measured cycle sees 1% of the fleet change.
	span := 60*time.Second + time.Duration(r.o.Cycles)*iv*4 + time.Duration(n)*time.Millisecond
	fo := sim.FleetOptions{Tasks: n, Seed: r.o.Seed, ChangeRate: 0.01 * float64(n) / iv.Seconds(), ChangeTo: span}
	s, err := r.startSim(ctx, fo)
	if err != nil {
		return cycleRun{}, err
	}
	defer s.Stop()
	return r.measureCycles(ctx, s, watchSpec{detail: mode, refreshActive: refresh, rateLimit: limit}, loopSpec{every: iv, count: r.o.Cycles})
}
