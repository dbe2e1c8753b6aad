package slackmsg

import (
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/msgtmpl"
)

// Block Kit limits (api.slack.com/reference/block-kit): Slack rejects the
// whole message with invalid_blocks when one is exceeded, so every text is
// cut to fit rather than trusted to be short.
const (
	maxHeaderText  = 150
	maxSectionText = 3000
	maxFieldText   = 2000
	maxFields      = 10
	maxBlocks      = 50
	maxFallback    = 3000 // top-level text: Slack cuts at 40k, notifications show far less
	// The default templates (msgtmpl) cut each value shorter still, so
	// that one long value does not crowd the others out.
)

// Emoji of a message, by kind first and then by the task's current status.
const (
	emojiSuccess   = ":white_check_mark:"
	emojiFailure   = ":x:"
	emojiActive    = ":arrows_counterclockwise:"
	emojiPending   = ":hourglass_flowing_sand:"
	emojiStopped   = ":octagonal_sign:"
	emojiWarning   = ":warning:"
	emojiRecovered = ":large_green_circle:"
	emojiRemoved   = ":wastebasket:"
	emojiStalled   = ":snail:"
)

// status is a status as the watcher reads it: raw spelling for display,
// canonical form for the emoji.
type status struct {
	raw   string
	norm  dcs.Status
	known bool
}

func statusOf(si *notify.StatusInfo) (status, bool) {
	raw, n, ok := si.Read()
	// Judged here, not taken from the envelope: the emoji must agree with
	// the status model this binary knows.
	return status{raw: raw, norm: n, known: n.Known()}, ok
}

func currentStatus(d notify.Data) (status, bool) {
	raw, n, ok := d.Current()
	return status{raw: raw, norm: n, known: n.Known()}, ok
}

func emoji(d notify.Data) string {
	switch d.Kind {
	case diff.Removed:
		return emojiRemoved
	case diff.WatchDegraded:
		return emojiWarning
	case diff.WatchRecovered, diff.Resumed:
		return emojiRecovered
	case diff.Stalled:
		return emojiStalled
	}
	cur, ok := currentStatus(d)
	if !ok || !cur.known {
		return emojiWarning
	}
	switch cur.norm.Phase() {
	case dcs.PhasePending:
		return emojiPending
	case dcs.PhaseActive:
		return emojiActive
	case dcs.PhaseStopping:
		return emojiStopped
	case dcs.PhaseTerminal:
		switch cur.norm.Outcome() {
		case dcs.OutcomeSucceeded:
			return emojiSuccess
		case dcs.OutcomeFailed:
			return emojiFailure
		}
		return emojiStopped
	}
	return emojiWarning
}

// reasonOf is the reason an event gives, raw, and how to label it: why
// the watcher is blind for watch_* events, else the API's error message
// while the task is failed (see reasonShown).
// The reason is "" when there is none.
func reasonOf(d notify.Data) (label, reason string) {
	label = "Failure reason"
	switch d.Kind {
	case diff.WatchDegraded:
		label, reason = "Why the watcher is blind", d.Reason
	case diff.WatchRecovered:
		label, reason = "The watcher was blind because", d.Reason
	default:
		if d.Snapshot != nil && reasonShown(d) {
			reason = d.Snapshot.ErrorMessage
		}
		if reason == "" {
			reason = d.Reason
		}
	}
	if strings.TrimSpace(reason) == "" {
		return label, ""
	}
	return label, reason
}

// Humanize writes a duration the way an on-call engineer reads it, with
// its two largest units: "45s", "3m12s", "2h5m", "3d4h".
func Humanize(d time.Duration) string { return msgtmpl.Humanize(d) }

func escape(s string) string { return msgtmpl.Escape(s) }

// escClip escapes s and cuts the result to max runes.
func escClip(s string, max int) string { return clipEscaped(escape(s), max) }

// code is s in an inline code span, cut to max runes.
func code(s string, max int) string {
	return msgtmpl.Code(escClip(strings.ReplaceAll(s, "`", "'"), max))
}

func clip(s string, max int) string        { return msgtmpl.Clip(s, max) }
func clipEscaped(s string, max int) string { return msgtmpl.ClipEscaped(s, max) }

// reasonShown says whether a task's error message is worth showing: its
// status is a failure, or one this binary does not know (it may be a
// failure it has no name for), or it has none. A task that recovered
// (FAILED -> RUNNING) may still carry the old message; showing it would
// say the task is failing.
func reasonShown(d notify.Data) bool {
	cur, ok := currentStatus(d)
	return !ok || !cur.known || cur.norm.Outcome() == dcs.OutcomeFailed
}

func md(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, text, false, false)
}

// address is where a source or target Redis is reached: its addrs, else ip[:port].
func address(in dcs.Instance) string {
	if in.Addrs != "" || in.IP == "" {
		return in.Addrs
	}
	if in.Port != "" {
		return in.IP + ":" + in.Port
	}
	return in.IP
}

// codeSection is a section of a bold label over text from the API in a
// code block, cut to fit.
func codeSection(label, text string) slack.Block {
	block := "*" + label + "*\n```" + escClip(strings.ReplaceAll(text, "```", "'''"), maxReason) + "```"
	return slack.NewSectionBlock(md(clipEscaped(block, maxSectionText)), nil, nil)
}

// Lengths the card cuts its values to, so that one long value does not
// crowd the others out of a section.
const (
	maxID     = 200
	maxReason = 2800 // leaves room for the label and the code fence
	maxName   = 150
	maxAddrs  = 300
)
