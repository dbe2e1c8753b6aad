package slackmsg

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// barCells is the width of the card's progress bar.
const barCells = 20

// progressBlock is the card's progress section, for a task in an active
// status whose progress is known: a bar with the percentage, an ETA from
// the observed rate (none without a rate, when the percentage went back,
// or when it does not move), the lag in incremental sync, and when the
// progress was observed. Nil otherwise.
func progressBlock(r *Card) slack.Block {
	p := r.Progress
	if p == nil || r.Norm.Phase() != dcs.PhaseActive {
		return nil
	}
	var parts []string
	if p.Percent != nil {
		pct := min(max(*p.Percent, 0), 100)
		parts = append(parts, bar(pct)+fmt.Sprintf(" %.1f%%", pct))
		if eta, left, ok := etaOf(p, pct); ok {
			parts = append(parts, "ETA "+eta.UTC().Format("15:04 UTC")+" (~"+Humanize(left)+" after the observation)")
		}
	}
	if r.Norm == dcs.StatusIncrMigrating && p.Lag != nil {
		if *p.Lag == 0 {
			parts = append(parts, "lag 0 (in sync)")
		} else {
			parts = append(parts, fmt.Sprintf("lag %d", *p.Lag))
		}
	}
	if len(parts) == 0 {
		return nil
	}
	text := "*Progress* " + strings.Join(parts, " · ") + "\n_observed " + p.ObservedAt.UTC().Format(time.RFC3339) + "_"
	return slack.NewSectionBlock(md(clipEscaped(text, maxSectionText)), nil, nil)
}

// bar draws pct (0..100) as barCells cells.
func bar(pct float64) string {
	full := int(pct/100*barCells + 0.5)
	return "`" + strings.Repeat("█", full) + strings.Repeat("░", barCells-full) + "`"
}

// etaOf is when the task should reach 100% at the observed rate, and how
// long after the observation that is; false without a rate that moves
// forward, or once done.
func etaOf(p *notify.Progress, pct float64) (time.Time, time.Duration, bool) {
	if p.PercentPerMinute == nil || *p.PercentPerMinute <= 0 || pct >= 100 {
		return time.Time{}, 0, false
	}
	left := time.Duration((100 - pct) / *p.PercentPerMinute * float64(time.Minute))
	return p.ObservedAt.Add(left), left, true
}
