package slackmsg

import (
	"strconv"
	"strings"
	"time"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/msgtmpl"
)

// maxLogLine is how much of one log line a message shows.
const maxLogLine = 400

// attentionData fills m's attention and log-tail fields from env, every
// text through esc.
func attentionData(m *msgtmpl.MessageData, env notify.Envelope, esc func(string) string) {
	d := env.Data
	if a := d.Attention; a != nil && (d.Kind == diff.Stalled || d.Kind == diff.Resumed) {
		m.Condition = esc(a.Condition)
		m.ConditionLabel = esc(event.ConditionLabel(a.Condition, a.Status))
		m.Since = a.Since.UTC().Format(time.RFC3339)
		end := env.Time
		if a.ClearedAt != nil {
			end = *a.ClearedAt
		}
		if !end.IsZero() && end.After(a.Since) {
			m.For = Humanize(end.Sub(a.Since))
		}
		m.Figures = esc(figures(a))
	}
	m.LogTail = esc(logTailText(d.LogTail))
	m.LogTailError = esc(d.LogTailError)
}

// figures are the numbers an episode opened with (and cleared at), in a
// line: "63%; stall_after 15m", "lag 5000, max_lag 1000", ...
func figures(a *diff.Attention) string {
	var parts []string
	add := func(s string) { parts = append(parts, s) }
	allowed := event.ShortDuration(time.Duration(a.AllowedSeconds * float64(time.Second)))
	switch a.Condition {
	case diff.ProgressStalled:
		if a.Percent != nil {
			add("progress " + strconv.FormatFloat(*a.Percent, 'f', -1, 64) + "%")
		}
		add("stall_after " + allowed)
	case diff.LagHigh:
		add("lag " + intText(a.Lag) + ", max_lag " + intText(a.MaxLag))
	case diff.LagGrowing:
		add("lag " + intText(a.LagFrom) + " -> " + intText(a.Lag) + " over " + allowed)
	case diff.StatusTooLong:
		add("status " + a.Status + ", allowance " + allowed)
	}
	if a.ClearedLag != nil {
		add("now " + intText(a.ClearedLag))
	}
	if a.ClearedBy != "" {
		add("cleared: " + a.ClearedBy)
	}
	return strings.Join(parts, "; ")
}

func intText(p *int64) string {
	if p == nil {
		return "?"
	}
	return strconv.FormatInt(*p, 10)
}

// logTailText is the log lines, one per line, "Jan 2 15:04:05 message
// (log_code)" (the raw
// created_at when unreadable), each cut to maxLogLine and on one line,
// scrubbed again: nothing of a log line reaches Slack that the scrubber
// has not seen.
func logTailText(lines []dcs.LogEntry) string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		at := l.CreatedAt
		if !l.Time.IsZero() {
			at = l.Time.UTC().Format("Jan 2 15:04:05")
		}
		msg := clip(strings.ReplaceAll(msgtmpl.OneLine(dcs.ScrubSecrets(l.Message)), "```", "'''"), maxLogLine)
		if l.Code != "" {
			msg += " (" + msgtmpl.OneLine(l.Code) + ")"
		}
		out = append(out, strings.TrimSpace(at+" "+msg))
	}
	return strings.Join(out, "\n")
}
