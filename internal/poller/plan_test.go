package poller

import (
	"fmt"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// TestRefreshSpread: tasks first seen at one instant are refreshed once per
// period each, spread over it, not all in one cycle an hour later.
func TestRefreshSpread(t *testing.T) {
	const n, period, tick = 1000, time.Hour, 30 * time.Second
	p := newPlan(period, 0)
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	last := make(map[string]time.Time, n)
	for i := range n {
		last[fmt.Sprintf("%032x", i)] = t0
	}
	refreshed := map[string]int{}
	most := 0
	for now := t0.Add(tick); !now.After(t0.Add(period)); now = now.Add(tick) {
		due := 0
		for id, l := range last {
			if p.due(id, dcs.Status("INCRMIGEATING"), l, now) {
				due++
				refreshed[id]++
				last[id] = now
			}
		}
		most = max(most, due)
	}
	for id, l := range last {
		if refreshed[id] != 1 {
			t.Fatalf("task %s refreshed %d times in one period (last %s), want once", id, refreshed[id], l.Sub(t0))
		}
	}
	// 1000 tasks over 120 cycles: about 8 a cycle.
	if most > 25 {
		t.Errorf("most refreshes in one cycle = %d, want them spread (about %d)", most, n/int(period/tick))
	}
	if p.due("a", dcs.Status("SUCCESS"), t0, t0.Add(100*period)) {
		t.Error("a finished task is refreshed with no terminal period")
	}
}
