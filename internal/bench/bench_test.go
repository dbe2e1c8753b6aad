package bench_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/bench"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/sim"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // 1..100 ms, given out of order
		ds = append(ds, ms(i))
	}
	got := bench.Percentiles(ds)
	want := bench.Summary{N: 100, P50: ms(50), P99: ms(99), Max: ms(100)}
	if got != want {
		t.Fatalf("Percentiles(1..100 ms) = %+v, want %+v", got, want)
	}
	if ds[0] != ms(100) {
		t.Fatal("Percentiles sorted its argument")
	}
	for _, tt := range []struct {
		in   []time.Duration
		want bench.Summary
	}{
		{nil, bench.Summary{}},
		{[]time.Duration{ms(7)}, bench.Summary{N: 1, P50: ms(7), P99: ms(7), Max: ms(7)}},
		// nearest rank: p50 of 3 values is the 2nd, p99 the 3rd
		{[]time.Duration{ms(3), ms(1), ms(2)}, bench.Summary{N: 3, P50: ms(2), P99: ms(3), Max: ms(3)}},
		// p99 of 200 values is the 198th
		{append(repeat(ms(1), 198), ms(500), ms(900)), bench.Summary{N: 200, P50: ms(1), P99: ms(1), Max: ms(900)}},
	} {
		if got := bench.Percentiles(tt.in); got != tt.want {
			t.Errorf("Percentiles(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestMaxInWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(msec ...int) []time.Time {
		var out []time.Time
		for _, m := range msec {
			out = append(out, t0.Add(ms(m)))
		}
		return out
	}
	for _, tt := range []struct {
		times []time.Time
		want  int
	}{
		{nil, 0},
		{at(0), 1},
		{at(0, 1000, 2000), 1}, // exactly a second apart: the window is half-open
		{at(0, 999), 2},
		{at(2500, 0, 1800, 2100, 2000, 2900), 4}, // [1800, 2800) holds 1800, 2000, 2100, 2500
	} {
		if got := bench.MaxInWindow(tt.times, time.Second); got != tt.want {
			t.Errorf("MaxInWindow(%v) = %d, want %d", tt.times, got, tt.want)
		}
	}
}

func TestMatchChanges(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	planned := []sim.StatusChange{
		{TaskID: "a", Status: "FAILED", At: 10 * time.Second},
		{TaskID: "a", Status: "RUNNING", At: 20 * time.Second},
		{TaskID: "b", Status: "INCRMIGEATING", At: 5 * time.Second},
		{TaskID: "b", Status: "INCRMIGEATING", At: 30 * time.Second},
		{TaskID: "c", Status: "FAILED", At: 7 * time.Second},
	}
	obs := []bench.Observation{
		{TaskID: "b", Status: "INCRMIGEATING", At: start.Add(31 * time.Second)},
		{TaskID: "a", Status: "FAILED", At: start.Add(10*time.Second + ms(400))},
		{TaskID: "b", Status: "INCRMIGEATING", At: start.Add(5*time.Second + ms(900))},
		{TaskID: "a", Status: "SUCCESS", At: start.Add(40 * time.Second)}, // never planned
	}
	m := bench.MatchChanges(planned, start, obs)
	if m.Unplanned != 1 || len(m.Detected) != 3 || len(m.Missing) != 2 {
		t.Fatalf("detected %d, missing %d, unplanned %d; want 3, 2, 1", len(m.Detected), len(m.Missing), m.Unplanned)
	}
	got := bench.Percentiles(m.Latencies())
	if got.P50 != ms(900) || got.Max != time.Second {
		t.Errorf("latencies %v: the same status twice must pair in order (0.9 s, then 1 s)", m.Latencies())
	}
	if m.Missing[0].TaskID != "a" || m.Missing[0].Status != "RUNNING" || m.Missing[1].TaskID != "c" {
		t.Errorf("missing = %+v, want a->RUNNING and c->FAILED", m.Missing)
	}
}

// The raw loops sign their calls (the simulator refuses unsigned ones) and
// decode what they get.
func TestRawLoops(t *testing.T) {
	sc := sim.Fleet(sim.FleetOptions{Tasks: 1500, Seed: 1})
	srv := sim.New(sc, sim.Options{AK: "BENCHAK", SK: "BENCHSK"})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	o := bench.RawOptions{
		Target: bench.Target{
			Endpoint: hs.URL, ProjectID: sc.ProjectID,
			Credentials: dcs.Credentials{AK: "BENCHAK", SK: "BENCHSK"},
		},
		Concurrency: 4, Duration: 200 * time.Millisecond,
	}
	ids := []string{sc.Tasks[0].ID, sc.Tasks[1].ID}
	r, err := bench.RawDetail(t.Context(), o, ids)
	if err != nil || r.Calls == 0 || r.Errors != 0 || r.Items != r.Calls {
		t.Fatalf("RawDetail = %+v, %v; want calls, one task each, no errors", r, err)
	}
	l, err := bench.RawList(t.Context(), o, len(sc.Tasks))
	if err != nil || l.Calls == 0 || l.Errors != 0 || l.Items < l.Calls*500 {
		t.Fatalf("RawList = %+v, %v; want pages of 1000 and 500 rows", l, err)
	}
	c, err := bench.SimCalls(t.Context(), hs.URL)
	// The server counts every call it answered, the loops only those that
	// succeeded.
	if err != nil || c.Detail < r.Calls || c.List < l.Calls || c.AuthFailures != 0 {
		t.Fatalf("SimCalls = %+v, %v; want at least %d detail and %d list calls, no auth failure", c, err, r.Calls, l.Calls)
	}
	o.Credentials = dcs.Credentials{AK: "BENCHAK", SK: "wrong"}
	if _, err := bench.RawDetail(t.Context(), o, ids); err == nil {
		t.Fatal("RawDetail with a wrong SK succeeded")
	}
}

func TestProcessStats(t *testing.T) {
	if rss, err := bench.RSS(); err != nil || rss <= 0 {
		t.Skipf("no /proc here: %v", err)
	}
	if bench.HeapInUse() == 0 {
		t.Error("HeapInUse = 0")
	}
	if _, err := bench.CPUTime(); err != nil {
		t.Error(err)
	}
	if l, err := bench.LoadAvg(); err != nil || l < 0 {
		t.Errorf("LoadAvg = %v, %v", l, err)
	}
	if m := bench.ThisMachine(); m.NumCPU < 1 || m.MemTotal <= 0 {
		t.Errorf("ThisMachine = %+v", m)
	}
}
