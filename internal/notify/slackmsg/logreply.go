package slackmsg

import (
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// maxLogLines is how many lines the log reply shows, the newest.
const maxLogLines = 10

// RenderLogReply is the reply Show log posts in a card's thread: the
// newest lines of the task's log (entries in the order given, newest
// first), each with its time, level and message, in a code block; the
// messages come scrubbed of secrets (package dcs) and are escaped and cut
// here. by is the Slack user id who asked.
func RenderLogReply(name, by string, entries []dcs.LogEntry) slack.WebhookMessage {
	head := ":scroll: Log of " + escClip(name, maxName) + ", asked by " + who(by)
	if len(entries) == 0 {
		return slack.WebhookMessage{Text: clipEscaped(head+": no log lines", maxFallback),
			Blocks: &slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(md(head+": the API returned no log lines"), nil, nil)}}}
	}
	text := logTailText(entries[:min(len(entries), maxLogLines)])
	body := "```" + escClip(text, maxReason) + "```"
	blocks := []slack.Block{
		slack.NewSectionBlock(md(clipEscaped(head+" (newest first)", maxSectionText)), nil, nil),
		slack.NewSectionBlock(md(clipEscaped(body, maxSectionText)), nil, nil),
	}
	return slack.WebhookMessage{Text: clipEscaped(head, maxFallback), Blocks: &slack.Blocks{BlockSet: blocks}}
}
