package attention_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/attention"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// obs is one poll of a task: at minutes after t0, its status and stats
// (pct < 0, lag < 0: not in the answer).
type obs struct {
	min     float64
	status  dcs.Status
	pct     float64
	lag     int64
	removed bool
	noStats bool // the stats call failed: no sample
}

// replay feeds the observations to Detect as the poller does (the record
// keeps the open episodes and the counter, memory the trimmed samples) and
// returns what opened and cleared, as "open <condition>#<episode>" and
// "clear <condition>#<episode> <by>", each with the minute it happened.
func replay(t *testing.T, c attention.Config, seq []obs) []string {
	t.Helper()
	var (
		out      []string
		open     []diff.Attention
		episodes uint64
		samples  []attention.Sample
		status   dcs.Status
		since    time.Time
	)
	for _, o := range seq {
		now := t0.Add(time.Duration(o.min * float64(time.Minute)))
		if o.status != status {
			status, since = o.status, now
		}
		s := attention.Sample{At: now}
		if o.pct >= 0 {
			p := o.pct
			s.Percent = &p
		}
		if o.lag >= 0 {
			l := o.lag
			s.Lag = &l
		}
		if !o.noStats {
			samples = append(samples, s)
		}
		samples = attention.Trim(samples, now, c.Window())
		r := attention.Detect(c, attention.Task{Now: now, Status: status, StatusSince: since, Removed: o.removed,
			Samples: samples, Open: open, Episodes: episodes})
		for _, a := range r.Cleared {
			out = append(out, fmt.Sprintf("%g clear %s#%d %s", o.min, a.Condition, a.Episode, a.ClearedBy))
		}
		for _, a := range r.Opened {
			out = append(out, fmt.Sprintf("%g open %s#%d", o.min, a.Condition, a.Episode))
		}
		if r.Changed() != (len(r.Opened)+len(r.Cleared) > 0) {
			t.Fatalf("minute %g: Changed() = %v with %d opened, %d cleared", o.min, r.Changed(), len(r.Opened), len(r.Cleared))
		}
		open, episodes = r.Open, r.Episodes
	}
	return out
}

// every returns observations from minute a to b (inclusive) every step
// minutes, made by f.
func every(a, b, step float64, f func(m float64) obs) []obs {
	var out []obs
	for m := a; m <= b; m += step {
		o := f(m)
		o.min = m
		out = append(out, o)
	}
	return out
}

func TestDetect(t *testing.T) {
	stall := attention.Config{StallAfter: 15 * time.Minute}
	lag := attention.Config{MaxLag: 1000}
	grow := attention.Config{LagGrowingFor: 10 * time.Minute}
	long := attention.Config{MaxInStatus: map[dcs.Status]time.Duration{dcs.StatusRunning: time.Hour}}
	full := func(pct float64) obs { return obs{status: dcs.StatusFullMigrating, pct: pct, lag: -1} }
	incr := func(l int64) obs { return obs{status: dcs.StatusIncrMigrating, pct: 100, lag: l} }
	cases := []struct {
		name string
		c    attention.Config
		seq  []obs
		want []string
	}{
		{"progress moving: no stall", stall, every(0, 60, 1, func(m float64) obs { return full(m) }), nil},
		{"stall opens once after stall_after, clears once when progress moves", stall,
			slices.Concat(
				every(0, 5, 1, func(m float64) obs { return full(m * 10) }),        // 0..50%
				every(6, 40, 1, func(float64) obs { return full(50) }),             // stuck since minute 5
				every(41, 50, 1, func(m float64) obs { return full(50 + m - 40) }), // moves again
			),
			[]string{"20 open progress_stalled#1", "41 clear progress_stalled#1 recovered"}},
		{"stall not yet at stall_after less a minute", stall,
			slices.Concat(every(0, 0, 1, func(float64) obs { return full(10) }), every(1, 14, 1, func(float64) obs { return full(10) })),
			nil},
		{"stall clears once when the task fails", stall,
			slices.Concat(every(0, 30, 1, func(float64) obs { return full(63) }),
				[]obs{{min: 31, status: dcs.StatusMigrationFailed, pct: 63, lag: -1}, {min: 32, status: dcs.StatusMigrationFailed, pct: 63, lag: -1}}),
			[]string{"15 open progress_stalled#1", "31 clear progress_stalled#1 status_changed"}},
		{"stats calls failing show no stall", stall,
			slices.Concat(every(0, 10, 1, func(float64) obs { return full(63) }),
				every(11, 40, 1, func(float64) obs { return obs{status: dcs.StatusFullMigrating, noStats: true} })),
			nil},
		{"stats calls failing show no lag growth", grow,
			slices.Concat(every(0, 5, 1, func(m float64) obs { return incr(100 + int64(m)) }),
				every(6, 40, 1, func(float64) obs { return obs{status: dcs.StatusIncrMigrating, noStats: true} })),
			nil},
		{"MIGRATING below 100% is full migration", stall,
			every(0, 20, 1, func(float64) obs { return obs{status: dcs.StatusMigrating, pct: 40, lag: -1} }),
			[]string{"15 open progress_stalled#1"}},
		{"incremental phase never stalls on percent", stall, every(0, 60, 1, func(float64) obs { return incr(0) }), nil},
		{"lag above max_lag opens once; hysteresis: 900 keeps it, 800 clears it", lag,
			[]obs{incr(10), incr(1001), incr(5000), incr(999), incr(900), incr(1200), incr(800), incr(801), incr(1001)},
			[]string{"1 open lag_high#1", "6 clear lag_high#1 recovered", "8 open lag_high#2"}},
		{"lag at max_lag is not above it", lag, []obs{incr(1000), incr(1000)}, nil},
		{"lag growing over the window opens once, clears at 80% of its peak", grow,
			slices.Concat(
				every(0, 12, 1, func(m float64) obs { return incr(100 + int64(m)*10) }),                                                               // 100..220
				every(13, 14, 1, func(m float64) obs { return incr(220) }),                                                                            // flat: still open
				[]obs{{min: 15, status: dcs.StatusIncrMigrating, pct: 100, lag: 170}, {min: 16, status: dcs.StatusIncrMigrating, pct: 100, lag: 160}}, // opened at 200: 170 keeps it, 160 clears it
			),
			[]string{"10 open lag_growing#1", "16 clear lag_growing#1 recovered"}},
		{"a dip inside the window is not growth", grow,
			every(0, 30, 1, func(m float64) obs {
				l := 100 + int64(m)*10
				if int(m)%8 == 7 {
					l -= 50
				}
				return incr(l)
			}),
			nil},
		{"flat lag is not growth", grow, every(0, 30, 1, func(float64) obs { return incr(500) }), nil},
		{"less than a window of samples is not growth", grow, every(0, 9, 1, func(m float64) obs { return incr(int64(m) * 100) }), nil},
		{"RUNNING over its hour opens once, clears once when it moves on", long,
			slices.Concat(
				every(0, 70, 5, func(float64) obs { return obs{status: dcs.StatusRunning, pct: -1, lag: -1} }),
				[]obs{{min: 71, status: dcs.StatusMigrating, pct: -1, lag: -1}, {min: 200, status: dcs.StatusMigrating, pct: -1, lag: -1}}),
			[]string{"65 open status_too_long#1", "71 clear status_too_long#1 status_changed"}},
		{"a status without an allowance lasts forever", long,
			every(0, 600, 30, func(float64) obs { return obs{status: dcs.StatusMigrating, pct: -1, lag: -1} }), nil},
		{"removal clears every open episode, opens none", attention.Config{StallAfter: 15 * time.Minute, MaxLag: 10,
			MaxInStatus: map[dcs.Status]time.Duration{dcs.StatusIncrMigrating: time.Minute}},
			[]obs{incr(50), incr(50), incr(50), {min: 3, status: dcs.StatusIncrMigrating, pct: 100, lag: 50, removed: true},
				{min: 4, status: dcs.StatusIncrMigrating, pct: 100, lag: 50, removed: true}},
			[]string{"0 open lag_high#1", "2 open status_too_long#2", "3 clear lag_high#1 removed", "3 clear status_too_long#2 removed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seq := tc.seq
			for i := range seq {
				if seq[i].min == 0 && i > 0 {
					seq[i].min = float64(i) // the bare obs lists: one a minute
				}
			}
			got := replay(t, tc.c, seq)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestDetectFigures checks the figures an episode opens with: what the
// message shows.
func TestDetectFigures(t *testing.T) {
	pct := 63.0
	var samples []attention.Sample
	for m := 0; m <= 20; m++ {
		samples = append(samples, attention.Sample{At: t0.Add(time.Duration(m) * time.Minute), Percent: &pct})
	}
	r := attention.Detect(attention.Config{StallAfter: 15 * time.Minute},
		attention.Task{Now: t0.Add(20 * time.Minute), Status: dcs.StatusFullMigrating, StatusSince: t0, Samples: samples, Episodes: 4})
	if len(r.Opened) != 1 {
		t.Fatalf("opened %d episodes, want 1", len(r.Opened))
	}
	a := r.Opened[0]
	if a.Episode != 5 || r.Episodes != 5 || !a.Since.Equal(t0) || a.Percent == nil || *a.Percent != 63 ||
		a.Status != string(dcs.StatusFullMigrating) || a.AllowedSeconds != 900 {
		t.Errorf("episode %+v (counter %d), want episode 5 since %v at 63%% in FULLMIGRATING, 900 s allowed", a, r.Episodes, t0)
	}
}
