package slackmsg

import (
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// GroupKey says which events of a batch may share a grouped message.
// Where the news is the new status (status_changed, and discovered,
// changed, task_status_changed when they are posted) it is the kind and
// the new normalised status: "25 tasks -> FAILED" is one piece of news,
// "10 -> FAILED, 15 -> SUCCESS" two. For removed, watch_degraded and
// watch_recovered the status is only the one last seen, not what
// happened, and one cause (a bulk clean-up, an API outage, expired
// credentials) hits tasks in every status: the kind alone, so that one
// incident makes one message; each line still shows the task's status. Late
// reasons (see LateReason) group apart from other changed events.
func GroupKey(d notify.Data) string {
	switch d.Kind {
	case diff.Removed, diff.WatchDegraded, diff.WatchRecovered:
		return string(d.Kind)
	}
	cur, _ := currentStatus(d)
	if lateReason(d) {
		return "reason " + string(cur.norm)
	}
	return string(d.Kind) + " " + string(cur.norm)
}

// ThreadNote adds to a grouped message of tasks without a card where
// their conversations go on.
func ThreadNote(msg slack.WebhookMessage) slack.WebhookMessage {
	return withNote(msg, "each task's card and later changes follow in this thread")
}

// withNote adds a context line of mrkdwn text at the end of msg's
// blocks, when it has blocks and room for one more.
func withNote(msg slack.WebhookMessage, text string) slack.WebhookMessage {
	if msg.Blocks == nil || len(msg.Blocks.BlockSet) >= maxBlocks {
		return msg
	}
	blocks := append(append([]slack.Block(nil), msg.Blocks.BlockSet...), slack.NewContextBlock("", md(text)))
	msg.Blocks = &slack.Blocks{BlockSet: blocks}
	return msg
}
