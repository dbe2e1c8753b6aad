package slack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

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
	// cardsTTL keeps a card record well beyond the life of a migration
	// task; a task silent for longer opens a new card.
	cardsTTL = 90 * 24 * time.Hour
)

// cardRecord is what the watcher keeps of a task's card in one channel:
// where the card is (channel id and ts, so that a restart or another
// replica updates the same message and continues the same thread) and
// what it shows (the timeline and the last status), so that each update
// redraws it whole. It lives in the cards bucket under cardKey and every
// write is a compare-and-swap on the revision read.
type cardRecord struct {
	Channel string `json:"channel"` // id, as Slack answered
	// TS is the card's ts: the thread's parent, unless Thread is set; ""
	// while a task listed in a grouped message has no card yet.
	TS string `json:"ts"`
	// Thread is the ts of the grouped message that listed the task when
	// it had no card (see sendGroup): its card and transitions are
	// replies in that message's thread.
	Thread string `json:"thread,omitempty"`
	// OpenedBy is the event whose post opened the card (its metadata).
	OpenedBy  string       `json:"opened_by"`
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
	// Spans are the statuses seen, oldest first; the last one lasts until
	// now. Folded holds, per phase, the seconds of the spans dropped to
	// keep maxSpans.
	Spans  []statusSpan       `json:"spans"`
	Folded map[string]float64 `json:"folded,omitempty"`
	// Applied are the ids of the latest events applied, newest last.
	Applied []string `json:"applied"`
}

// thread is where the task's transitions are replies.
func (r *cardRecord) thread() string {
	if r.Thread != "" {
		return r.Thread
	}
	return r.TS
}

// statusSpan is one status of the timeline and when it was first seen.
type statusSpan struct {
	Status string     `json:"status"`
	Norm   dcs.Status `json:"norm"`
	Since  time.Time  `json:"since"`
}

// cardEvent says whether an event belongs on a task's card in bot mode:
// an event about one task (not the API, the Slack delivery or the store)
// other than the watcher's blindness (watch_*), which is a top-level
// message like in webhook mode.
func cardEvent(d notify.Data) bool {
	switch {
	case d.TaskID == "" || d.TaskID == notify.NoTask || d.TaskID == notify.SlackTask || d.TaskID == notify.StoreTask:
		return false
	case d.Kind == diff.WatchDegraded || d.Kind == diff.WatchRecovered:
		return false
	}
	return true
}

// apply adds env to the record and says whether it was new: the status
// timeline (a status change closes the last span; the first event of a
// record also opens the previous status's span from
// previous_status_seconds), the last status, names and addresses, the last
// error (while the task is failed: a recovery clears it).
func (r *cardRecord) apply(env notify.Envelope) bool {
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
		if len(r.Spans) == 0 || r.Spans[len(r.Spans)-1].Status != cur.raw {
			r.Spans = append(r.Spans, statusSpan{Status: cur.raw, Norm: cur.norm, Since: env.Time.UTC()})
		}
	}
	r.fold()
	r.Updated, r.LastEvent = env.Time.UTC(), env.ID
	r.Applied = append(r.Applied, env.ID)
	if len(r.Applied) > maxApplied {
		r.Applied = r.Applied[len(r.Applied)-maxApplied:]
	}
	return true
}

// fold moves the oldest spans into the phase totals until maxSpans are
// left.
func (r *cardRecord) fold() {
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
func (r *cardRecord) phaseTotals(now time.Time) map[dcs.Phase]time.Duration {
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

// cards reads and writes card records.
type cards struct{ kv jetstream.KeyValue }

// cardKey names the card of a task for one destination (lane) and
// channel: a route that moves to another channel opens new cards there.
func cardKey(lane, channel string, d notify.Data) string {
	sum := sha256.Sum256([]byte(lane + "\x00" + channel + "\x00" + d.ProjectID + "\x00" + d.TaskID))
	return "card." + hex.EncodeToString(sum[:16])
}

// read returns the record under key and its revision; nil and 0 when
// there is none.
func (c cards) read(ctx context.Context, key string) (*cardRecord, uint64, error) {
	return readRecord[cardRecord](ctx, c.kv, "card", key)
}

// write creates the record (rev 0) or replaces revision rev, and returns
// the new revision; jetstream.ErrKeyExists says someone wrote in between.
func (c cards) write(ctx context.Context, key string, r *cardRecord, rev uint64) (uint64, error) {
	return writeRecord(ctx, c.kv, "card", key, r, rev)
}
