package statuspage

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// Segment is one stretch of a task's timeline in one status.
type Segment struct {
	Status string    `json:"status"`
	Phase  dcs.Phase `json:"phase"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
}

// timeline draws the task's statuses from its events (first sight and
// status changes), then its current status if the events do not end in
// it; the last segment runs to now.
func timeline(t *task, syms *symbols, now time.Time) []Segment {
	var segs []Segment
	add := func(status string, from time.Time) {
		if status == "" {
			return
		}
		if n := len(segs); n > 0 {
			if segs[n-1].Status == status {
				return
			}
			segs[n-1].To = from
		}
		segs = append(segs, Segment{Status: status, Phase: dcs.Status(status).Phase(), From: from})
	}
	for _, e := range t.events {
		switch syms.name(e.kind) {
		case "discovered", "status_changed":
			add(syms.name(e.status), when(e.at))
		}
	}
	if cur := string(dcs.Normalize(t.status)); cur != "" && (len(segs) == 0 || segs[len(segs)-1].Status != cur) {
		from := when(t.since)
		if n := len(segs); n > 0 && from.Before(segs[n-1].From) {
			from = segs[n-1].From
		}
		add(cur, from)
	}
	if n := len(segs); n > 0 {
		segs[n-1].To = now
		if segs[n-1].To.Before(segs[n-1].From) {
			segs[n-1].To = segs[n-1].From
		}
	}
	return segs
}

// phaseColor fills a segment by the meaning of its status.
func phaseColor(s Segment) string {
	switch dcs.Status(s.Status).Outcome() {
	case dcs.OutcomeFailed:
		return "#d64545"
	case dcs.OutcomeSucceeded:
		return "#3c9a5f"
	case dcs.OutcomeStopped:
		return "#8a8f98"
	}
	switch dcs.Status(s.Status) {
	case dcs.StatusIncrMigrating:
		return "#2a9d8f"
	case dcs.StatusMigrating:
		return "#5a6fd6"
	}
	switch s.Phase {
	case dcs.PhasePending:
		return "#e0b341"
	case dcs.PhaseActive:
		return "#3f7fd6"
	case dcs.PhaseStopping:
		return "#b57ad1"
	}
	return "#c4c8cf"
}

// svgWidth and the segments' minimum width keep a short status visible
// beside a long one.
const (
	svgWidth  = 800.0
	svgMinSeg = 40.0
)

// timelineSVG draws segs as one bar of rect elements (class "segment", one
// per status) with their status and times as labels and titles. Every text
// goes through template escaping.
func timelineSVG(segs []Segment) template.HTML {
	if len(segs) == 0 {
		return ""
	}
	total := segs[len(segs)-1].To.Sub(segs[0].From).Seconds()
	free := svgWidth - svgMinSeg*float64(len(segs))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f 64" role="img" aria-label="status timeline">`, svgWidth)
	x := 0.0
	for i, s := range segs {
		w := svgMinSeg
		if total > 0 && free > 0 {
			w += free * s.To.Sub(s.From).Seconds() / total
		} else if free > 0 {
			w += free / float64(len(segs))
		}
		title := fmt.Sprintf("%s from %s to %s (%s)", s.Status, s.From.Format(time.RFC3339), s.To.Format(time.RFC3339), s.To.Sub(s.From).Round(time.Second))
		fmt.Fprintf(&b, `<g><title>%s</title><rect class="segment" data-status="%s" data-index="%d" x="%.1f" y="4" width="%.1f" height="28" fill="%s"></rect>`,
			template.HTMLEscapeString(title), template.HTMLEscapeString(s.Status), i, x, max(w-2, 1), phaseColor(s))
		fmt.Fprintf(&b, `<text x="%.1f" y="50" font-size="11" fill="#333">%s</text></g>`, x+2, template.HTMLEscapeString(short(s.Status, w)))
		x += w
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// short cuts a label to what fits in w pixels.
func short(s string, w float64) string {
	n := int(w / 7)
	if len(s) <= n {
		return s
	}
	if n < 2 {
		return ""
	}
	return s[:n-1] + "…"
}
