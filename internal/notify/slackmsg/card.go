package slackmsg

import (
	"slices"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

const (
	// maxSpans is how many statuses the card's timeline lists; older ones
	// are folded into the phase totals, so a task flapping for weeks keeps
	// a card within Slack's limits and a record of a bounded size.
	maxSpans = 20
	// maxApplied is how many event ids the record remembers, so that an
	// event delivered again (a retry, a restart) is not applied twice.
	maxApplied = 50
)

// Card is what a task's live status card shows (the timeline and the last
// status), so that each update redraws it whole from the events applied
// to it; where the card is lives with the delivery, which keeps a Card
// per task and channel.
type Card struct {
	Project   string       `json:"project"`
	Region    string       `json:"region,omitempty"`
	TaskID    string       `json:"task_id"`
	Name      string       `json:"name"`
	Status    string       `json:"status"` // raw, as the API spells it
	Norm      dcs.Status   `json:"norm"`
	Kind      diff.Kind    `json:"kind"` // of the last event (removed shows on the card)
	Source    dcs.Instance `json:"source"`
	Target    dcs.Instance `json:"target"`
	LastError string       `json:"last_error,omitempty"`
	Updated   time.Time    `json:"updated"`
	LastEvent string       `json:"last_event"`
	// CatchUp is the silence that held the last event back until it
	// ended (notify.Data.CatchUp), "" for an event posted when it happened.
	CatchUp string `json:"catch_up,omitempty"`
	// Spans are the statuses seen, oldest first; the last one lasts until
	// now. Folded holds, per phase, the seconds of the spans dropped to
	// keep maxSpans.
	Spans  []statusSpan       `json:"spans"`
	Folded map[string]float64 `json:"folded,omitempty"`
	// Applied are the ids of the latest events applied, newest last.
	Applied []string `json:"applied"`
	// Progress is the task's last progress an event carried, while it is
	// in an active status.
	Progress *notify.Progress `json:"progress,omitempty"`
	// Attention are the task's open attention episodes (card_attention.go).
	Attention []cardAttention `json:"attention,omitempty"`
}

// statusSpan is one status of the timeline and when it was first seen.
type statusSpan struct {
	Status string     `json:"status"`
	Norm   dcs.Status `json:"norm"`
	Since  time.Time  `json:"since"`
}

// CardEvent says whether an event belongs on a task's card in bot mode:
// an event about one task (not the API, the Slack delivery or the store)
// other than the watcher's blindness (watch_*), which is a top-level
// message like in webhook mode.
func CardEvent(d notify.Data) bool {
	switch {
	case d.TaskID == "" || d.TaskID == notify.NoTask || d.TaskID == notify.SlackTask || d.TaskID == notify.StoreTask:
		return false
	case d.Kind == diff.WatchDegraded || d.Kind == diff.WatchRecovered:
		return false
	}
	return true
}

// Apply adds env to the card and says whether it was new: the status
// timeline (a status change closes the last span; the first event of a
// record also opens the previous status's span from
// previous_status_seconds), the last status, names and addresses, the last
// error (while the task is failed: a recovery clears it).
func (r *Card) Apply(env notify.Envelope) bool {
	if slices.Contains(r.Applied, env.ID) {
		return false
	}
	d := env.Data
	r.Project, r.TaskID, r.Kind = d.ProjectID, d.TaskID, d.Kind
	if d.Region != "" {
		r.Region = d.Region
	}
	if n := d.Name(); n != "" {
		r.Name = n
	}
	if t := d.Snapshot; t != nil {
		r.Source, r.Target = t.Source, t.Target
		r.LastError = ""
		if reasonShown(d) {
			r.LastError = t.ErrorMessage
		}
	}
	if len(r.Spans) == 0 && d.PreviousStatusSeconds != nil {
		if p, ok := statusOf(d.PreviousStatus); ok {
			since := env.Time.Add(-time.Duration(*d.PreviousStatusSeconds * float64(time.Second)))
			r.Spans = append(r.Spans, statusSpan{Status: p.raw, Norm: p.norm, Since: since.UTC()})
		}
	}
	if cur, ok := currentStatus(d); ok {
		r.Status, r.Norm = cur.raw, cur.norm
		switch {
		case cur.norm.Phase() != dcs.PhaseActive:
			r.Progress = nil
		case d.Progress != nil:
			r.Progress = d.Progress
		}
		if len(r.Spans) == 0 || r.Spans[len(r.Spans)-1].Status != cur.raw {
			r.Spans = append(r.Spans, statusSpan{Status: cur.raw, Norm: cur.norm, Since: env.Time.UTC()})
		}
	}
	r.applyAttention(d)
	r.fold()
	r.Updated, r.LastEvent, r.CatchUp = env.Time.UTC(), env.ID, d.CatchUp
	r.Applied = append(r.Applied, env.ID)
	if len(r.Applied) > maxApplied {
		r.Applied = r.Applied[len(r.Applied)-maxApplied:]
	}
	return true
}

// fold moves the oldest spans into the phase totals until maxSpans are
// left.
func (r *Card) fold() {
	for len(r.Spans) > maxSpans {
		s, next := r.Spans[0], r.Spans[1]
		if r.Folded == nil {
			r.Folded = map[string]float64{}
		}
		r.Folded[string(phaseOf(s.Norm))] += next.Since.Sub(s.Since).Seconds()
		r.Spans = r.Spans[1:]
	}
}

func phaseOf(s dcs.Status) dcs.Phase {
	if !s.Known() {
		return "unknown"
	}
	return s.Phase()
}

// phaseTotals is the time spent in each phase, the last span counted up
// to now.
func (r *Card) phaseTotals(now time.Time) map[dcs.Phase]time.Duration {
	out := map[dcs.Phase]time.Duration{}
	for p, secs := range r.Folded {
		out[dcs.Phase(p)] += time.Duration(secs * float64(time.Second))
	}
	for i, s := range r.Spans {
		end := now
		if i+1 < len(r.Spans) {
			end = r.Spans[i+1].Since
		}
		if end.After(s.Since) {
			out[phaseOf(s.Norm)] += end.Sub(s.Since)
		}
	}
	return out
}
