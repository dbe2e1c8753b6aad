package slackmsg

import (
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// maxReminderReason is how much of the failure reason a reminder quotes:
// it is a nudge, the card or the first message has the whole reason.
const maxReminderReason = 300

// RenderReminderReply is the reminder of an open incident in bot mode, a
// reply in its card's thread: "Still failing after 4h12m: `FAILED`,
// <reason>". d is the incident's last event, open how long it has been
// open.
func RenderReminderReply(d notify.Data, open time.Duration) slack.WebhookMessage {
	still := stillWhat(d)
	line := ":repeat: S" + still[1:] + " after " + Humanize(open) + ": " + reminderState(d)
	return slack.WebhookMessage{
		Text:   clipEscaped(escape(d.Name())+": "+still+" after "+Humanize(open), maxFallback),
		Blocks: &slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(md(clipEscaped(line, maxSectionText)), nil, nil)}},
	}
}

// RenderReminder is the reminder of an open incident in webhook mode, a
// message of its own: the task (name and id), its status and reason, and
// how long the incident has been open.
func RenderReminder(d notify.Data, open time.Duration) slack.WebhookMessage {
	task := "*" + escClip(d.Name(), maxName) + "*"
	if d.TaskID != "" && d.TaskID != d.Name() {
		task += " (" + code(d.TaskID, maxID) + ")"
	}
	still := stillWhat(d)
	line := ":repeat: " + task + " " + still + " after " + Humanize(open) + ": " + reminderState(d)
	blocks := []slack.Block{
		slack.NewSectionBlock(md(clipEscaped(line, maxSectionText)), nil, nil),
		slack.NewContextBlock("", md(clipEscaped("project "+code(d.ProjectID, maxID)+" · reminded until the task recovers, is removed or silenced", maxFieldText))),
	}
	return slack.WebhookMessage{
		Text:   clipEscaped(escape(d.Name())+": "+still+" after "+Humanize(open), maxFallback),
		Blocks: &slack.Blocks{BlockSet: blocks},
	}
}

// stillWhat is what a reminder says of its incident: "still stalled" for a
// stall (what stalled it: its condition), else "still failing".
func stillWhat(d notify.Data) string {
	if d.Kind == diff.Stalled {
		if d.Attention != nil {
			return "still stalled (" + escape(event.ConditionLabel(d.Attention.Condition, d.Attention.Status)) + ")"
		}
		return "still stalled"
	}
	return "still failing"
}

// reminderState is the incident's status, and its reason when it has one.
func reminderState(d notify.Data) string {
	raw, _, ok := d.Current()
	if !ok {
		raw = "unknown status"
	}
	s := code(raw, maxID)
	if _, reason := reasonOf(d); reason != "" {
		s += ", " + escClip(strings.Join(strings.Fields(reason), " "), maxReminderReason)
	}
	return s
}
