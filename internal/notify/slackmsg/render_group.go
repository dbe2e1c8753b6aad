package slackmsg

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// Limits of a grouped message. Block Kit's own (maxBlocks, maxSectionText)
// are the hard ones; these keep a message short enough to read through on
// a phone and far from Slack's payload limits. With them a message has at
// most 2 + ceil(maxGroupText / (maxSectionText - maxGroupLine)) + 1 blocks,
// well under maxBlocks, so nothing ever has to be cut off the end.
const (
	MaxGroupEvents   = 50    // task lines in one grouped message
	maxGroupText     = 12000 // characters of task lines in one grouped message
	maxGroupLine     = 600   // one task's line; the parts below add up to less
	maxGroupStatus   = 40
	maxGroupFallback = 500
)

// GroupPart is one message of a group and how many of the group's
// events, taken in order, it lists.
type GroupPart struct {
	Msg    slack.WebhookMessage
	Events int
}

// span is the events [from, to) of a group that one message lists.
type span struct{ from, to int }

// splitLines cuts lines, in order, into as few messages as hold them:
// each takes the next lines while it has fewer than MaxGroupEvents and
// their text stays within maxGroupText.
func splitLines(lines []string) []span {
	var spans []span
	from, size := 0, 0
	for i, l := range lines {
		n := utf8.RuneCountInString(l) + 1 // and its newline
		if i > from && (i-from == MaxGroupEvents || size+n > maxGroupText) {
			spans = append(spans, span{from, i})
			from, size = i, 0
		}
		size += n
	}
	return append(spans, span{from, len(lines)})
}

func mrkdwnSection(text string) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
}

// headline says what happened to the whole group, with the API's text
// (the status) passed through esc: the watcher's own words, its "->"
// among them, are not escaped, as in a single message's text.
func headline(d notify.Data, n int, esc func(string) string) string {
	tasks := fmt.Sprintf("%d migration tasks", n)
	status := "?"
	if cur, ok := currentStatus(d); ok {
		status = esc(clip(string(cur.norm), maxGroupStatus))
		if !cur.known {
			status += " (unknown status)"
		}
	}
	if lateReason(d) {
		return "reason for the failure of " + tasks
	}
	switch d.Kind {
	case diff.StatusChanged:
		return tasks + " -> " + status
	case diff.Discovered:
		return tasks + " discovered in " + status
	case diff.Removed:
		return tasks + " removed"
	case diff.WatchDegraded:
		return "watcher cannot see " + tasks
	case diff.WatchRecovered:
		return "watcher sees " + tasks + " again"
	default:
		return tasks + ": " + esc(string(d.Kind)) + " (status " + status + ")"
	}
}

// lineWhat is what happened to one task of a group, with API text passed
// through esc. For removed and watch_* the header says what happened; the
// line gives the status the task was last seen in.
func lineWhat(d notify.Data, esc func(string) string) string {
	cur, ok := currentStatus(d)
	switch {
	case d.Kind == diff.Removed || (d.TaskID != "" && (d.Kind == diff.WatchDegraded || d.Kind == diff.WatchRecovered)):
		if !ok {
			return ""
		}
		label := "last seen "
		if d.Kind == diff.WatchRecovered {
			label = "now "
		}
		s := esc(cur.raw)
		if !cur.known {
			s += " (unknown status)"
		}
		return label + s
	case lateReason(d):
		return "" // the header says it; the line gives the reason
	default:
		return d.What(esc)
	}
}

// sharedReason is the reason, and its label, that every event of the group
// gives, or "" if they differ or one has none.
func sharedReason(envs []notify.Envelope) (label, reason string) {
	label, reason = reasonOf(envs[0].Data)
	for _, env := range envs[1:] {
		if _, r := reasonOf(env.Data); r != reason {
			return "", ""
		}
	}
	return label, reason
}

func sharedProject(envs []notify.Envelope) string {
	p := envs[0].Data.ProjectID
	for _, env := range envs[1:] {
		if env.Data.ProjectID != p {
			return ""
		}
	}
	return p
}

// observedRange says when the events were seen: one time, or the first
// and the last.
func observedRange(envs []notify.Envelope) string {
	var first, last time.Time
	for _, env := range envs {
		t := env.Time
		if t.IsZero() {
			continue
		}
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	if first.IsZero() {
		return ""
	}
	// At the second the context shows, two times in one second are one.
	from, to := first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339)
	if from == to {
		return "observed " + from
	}
	return "observed " + from + " to " + to
}

// packSections joins lines into as few section texts as fit
// maxSectionText each; every line is at most maxGroupLine, so each fits.
func packSections(lines []string) []string {
	var out []string
	var b strings.Builder
	size := 0
	for _, l := range lines {
		n := utf8.RuneCountInString(l)
		if size > 0 && size+1+n > maxSectionText {
			out = append(out, b.String())
			b.Reset()
			size = 0
		}
		if size > 0 {
			b.WriteByte('\n')
			size++
		}
		b.WriteString(l)
		size += n
	}
	if size > 0 {
		out = append(out, b.String())
	}
	return out
}
