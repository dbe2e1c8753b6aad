package slackmsg

import (
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// Lengths of the log reply.
const (
	maxLogLines = 10  // lines shown, the newest
	maxLogLine  = 260 // runes of one line's message
)

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
	var lines []string
	for i, e := range entries {
		if i == maxLogLines {
			break
		}
		at := e.CreatedAt
		if !e.Time.IsZero() {
			at = e.Time.UTC().Format(time.DateTime)
		}
		line := strings.TrimSpace(at + " " + e.Level + " " + clip(strings.Join(strings.Fields(e.Message), " "), maxLogLine))
		if e.Code != "" {
			line += " (" + e.Code + ")"
		}
		lines = append(lines, line)
	}
	body := "```" + escClip(strings.ReplaceAll(strings.Join(lines, "\n"), "```", "'''"), maxReason) + "```"
	blocks := []slack.Block{
		slack.NewSectionBlock(md(clipEscaped(head+" (newest first)", maxSectionText)), nil, nil),
		slack.NewSectionBlock(md(clipEscaped(body, maxSectionText)), nil, nil),
	}
	return slack.WebhookMessage{Text: clipEscaped(head, maxFallback), Blocks: &slack.Blocks{BlockSet: blocks}}
}
