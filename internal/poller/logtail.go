package poller

import (
	"cmp"
	"context"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/state"
)

// LogFetcher reads lines of a task's log: the logs call.
type LogFetcher interface {
	Logs(ctx context.Context, taskID string, q dcs.LogQuery) ([]dcs.LogEntry, int, dcs.Info, error)
}

const (
	// LogTailLines is how many ERROR lines a failure or a stall carries.
	LogTailLines = 5
	// logTailPage is the one page of ERROR lines asked for: the API sends
	// the newest first (as the console shows them; unverified), and the
	// lines before the last good status are dropped here, as the API has
	// no time filter.
	logTailPage = 100
	// logTailWait bounds the log call: the event waits for it, and a log
	// tail is worth less than a timely event.
	logTailWait = 5 * time.Second
	// maxLogMessage clips one line (in bytes, on a rune boundary), so that
	// a runaway message cannot swell the record and the event.
	maxLogMessage = 1000
)

// wantsLogTail reports whether ev is a failure or a stall: a status_changed
// whose new status is a failure, or a progress_stalled episode opening.
func wantsLogTail(ev diff.Event) bool {
	switch ev.Kind {
	case diff.StatusChanged:
		return ev.Curr != nil && ev.Curr.NormStatus().Outcome() == dcs.OutcomeFailed
	case diff.Stalled:
		return ev.Attention != nil && ev.Attention.Condition == diff.ProgressStalled
	}
	return false
}

// withLogTail gives the failures and stalls among the events of a commit
// their log tail: one logs call for them all, for the ERROR lines since
// the task entered the status it had before (prev's: its last good
// status), the newest LogTailLines. A failed call leaves them without a
// tail, with its error class in LogTailError, and the commit goes on.
// Without Options.Logs, events is returned as it is.
//
// A failure costs one call, not one per cycle: its events are derived once
// and kept in the outbox until published (a publish retried from the
// outbox carries the stored tail), and a change derived again against the
// same revision (its write failed or lost a compare-and-swap) reuses the
// tail fetched for it (attending.tailFor), so the event it makes again
// is the same, body and id.
func (c *cycle) withLogTail(ctx context.Context, task string, prev state.Entry, events []diff.Event) []diff.Event {
	if c.p.o.Logs == nil || !slices.ContainsFunc(events, wantsLogTail) {
		return events
	}
	lines, class := c.p.attn.tailFor(task, prev.Revision, func() ([]dcs.LogEntry, string) {
		return c.p.logTail(ctx, task, prev.StatusSince)
	})
	out := slices.Clone(events)
	for i := range out {
		if wantsLogTail(out[i]) {
			out[i].LogTail, out[i].LogTailError = lines, class
		}
	}
	return out
}

// logTail makes the logs call of a task and returns the newest
// LogTailLines ERROR lines at or after since (a line whose time is
// unreadable is kept: it cannot be placed), scrubbed again and clipped;
// or, when the call fails, its error class.
func (p *Poller) logTail(ctx context.Context, task string, since time.Time) ([]dcs.LogEntry, string) {
	ctx, cancel := context.WithTimeout(ctx, logTailWait)
	defer cancel()
	p.attn.logCalls.Add(1)
	entries, _, info, err := p.o.Logs.Logs(ctx, task, dcs.LogQuery{Level: "ERROR", Limit: logTailPage})
	if err != nil {
		p.logCallErr(err, task, info, "task logs")
		class := dcs.Class(err)
		if class == "" {
			class = "error"
		}
		return nil, class
	}
	var tail []dcs.LogEntry
	for _, e := range entries {
		if e.Level != "ERROR" || (!e.Time.IsZero() && !since.IsZero() && e.Time.Before(since)) {
			continue
		}
		tail = append(tail, scrubbed(e))
	}
	// Newest first, whatever order the API sent: a line without a time
	// keeps its place after those with one.
	slices.SortStableFunc(tail, func(a, b dcs.LogEntry) int {
		if a.Time.IsZero() || b.Time.IsZero() {
			return cmp.Compare(boolInt(a.Time.IsZero()), boolInt(b.Time.IsZero()))
		}
		return b.Time.Compare(a.Time)
	})
	if len(tail) > LogTailLines {
		tail = tail[:LogTailLines]
	}
	return tail, ""
}

// scrubbed is e with its text scrubbed again (the client did it once;
// nothing this package keeps may hold a secret it added or missed) and its
// message clipped.
func scrubbed(e dcs.LogEntry) dcs.LogEntry {
	e.Message = clip(dcs.ScrubSecrets(e.Message), maxLogMessage)
	e.Code = dcs.ScrubSecrets(e.Code)
	kw := make([]string, len(e.Keywords))
	for i, k := range e.Keywords {
		kw[i] = dcs.ScrubSecrets(k)
	}
	if len(kw) == 0 {
		kw = nil
	}
	e.Keywords = kw
	return e
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// spendLogs takes the cycle's logs calls out of its stats calls when a
// budget bounds them (left >= 0: what the budget leaves for stats calls):
// the stats calls picked last, those asked most recently, wait for the
// next cycle.
func spendLogs(stats []string, left, logs int) []string {
	if left < 0 || logs == 0 {
		return stats
	}
	return stats[:max(0, min(len(stats), left-logs))]
}
