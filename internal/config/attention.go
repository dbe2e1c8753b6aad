package config

import (
	"fmt"
	"slices"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// AttentionConfig says when a task needs a look although its status says
// nothing new: the stalled and resumed events (docs/events.md). A zero
// duration or limit turns its condition off.
type AttentionConfig struct {
	// StallAfter: full-migration progress unchanged this long opens a
	// progress_stalled episode.
	StallAfter time.Duration `yaml:"stall_after" json:"stall_after"`
	// MaxLag: an incremental lag (the stats call's offset) above it opens a
	// lag_high episode, which clears at 80% of it. Off by default: what a
	// high lag is depends on the instance and its write rate.
	MaxLag int64 `yaml:"max_lag" json:"max_lag"`
	// LagGrowingFor: an incremental lag that grew over a whole window this
	// long (every sample at or above the one before, the last above the
	// first) opens a lag_growing episode, which clears at 80% of the lag
	// it reached.
	LagGrowingFor time.Duration `yaml:"lag_growing_for" json:"lag_growing_for"`
	// MaxInStatus is the allowance per status (its canonical or an API
	// spelling); a status left out may last forever. A file's entries are
	// added to the defaults; 0 removes one.
	MaxInStatus map[string]time.Duration `yaml:"max_in_status" json:"max_in_status"`
}

func defaultAttention() AttentionConfig {
	return AttentionConfig{
		StallAfter:    15 * time.Minute,
		LagGrowingFor: 10 * time.Minute,
		MaxInStatus: map[string]time.Duration{
			string(dcs.StatusRunning):     time.Hour, // created, never configured
			string(dcs.StatusTerminating): 30 * time.Minute,
		},
	}
}

// Allowances is MaxInStatus by normalised status, without the entries a
// 0 turned off.
func (a AttentionConfig) Allowances() map[dcs.Status]time.Duration {
	m := make(map[dcs.Status]time.Duration, len(a.MaxInStatus))
	for st, d := range a.MaxInStatus {
		if d > 0 {
			m[dcs.Normalize(st)] = d
		}
	}
	return m
}

func (c Config) validateAttention(p *problems) {
	a := c.Attention
	for key, d := range map[string]time.Duration{"attention.stall_after": a.StallAfter, "attention.lag_growing_for": a.LagGrowingFor} {
		if d < 0 {
			p.add(key, "must be 0 (off) or above, not %s", d)
		}
	}
	if a.MaxLag < 0 {
		p.add("attention.max_lag", "must be 0 (off) or above, not %d", a.MaxLag)
	}
	statuses := make([]string, 0, len(a.MaxInStatus))
	for st := range a.MaxInStatus {
		statuses = append(statuses, st)
	}
	slices.Sort(statuses)
	for _, st := range statuses {
		key := fmt.Sprintf("attention.max_in_status.%s", st)
		switch n := dcs.Normalize(st); {
		case !n.Known():
			p.add(key, "unknown status %q", st)
		case n.Terminal():
			p.add(key, "%s is terminal: a task stays in it for good", n)
		case a.MaxInStatus[st] < 0:
			p.add(key, "must be 0 (none) or above, not %s", a.MaxInStatus[st])
		}
	}
}
