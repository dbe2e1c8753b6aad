package poller

import (
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// TestProgressRate: the rate is measured from the first percentage kept;
// when the percentage goes back there is none until the next answer, and
// it is then measured from where it went back to.
func TestProgressRate(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	pg := newProgress()
	pct := func(v float64) dcs.Stats { return dcs.Stats{Percent: &v} }
	for i, c := range []struct {
		at   time.Duration
		pct  float64
		rate float64 // -1: none
	}{
		{0, 10, -1},
		{time.Minute, 20, 10},
		{2 * time.Minute, 40, 15},
		{3 * time.Minute, 5, -1}, // went back: the sync restarted
		{5 * time.Minute, 25, 10},
	} {
		at := t0.Add(c.at)
		pg.answered("t", pct(c.pct), at, at)
		got := pg.envelope("t").PercentPerMinute
		switch {
		case c.rate < 0 && got != nil:
			t.Errorf("step %d (%v%% at %s): rate %v, want none", i, c.pct, c.at, *got)
		case c.rate >= 0 && (got == nil || *got != c.rate):
			t.Errorf("step %d (%v%% at %s): rate %v, want %v", i, c.pct, c.at, got, c.rate)
		}
	}
}
