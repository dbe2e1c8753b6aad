package slackmsg

import (
	"regexp"
	"slices"
	"strings"

	"github.com/slack-go/slack"
)

// mentionPattern is what a mention may be: a user id (U…, W…), a user
// group id (S…), @here or @channel.
var mentionPattern = regexp.MustCompile(`^([UWS][A-Z0-9]{2,40}|@here|@channel)$`)

// ValidMention says whether m is a mention Options accepts.
func ValidMention(m string) bool { return mentionPattern.MatchString(m) }

// mentionText is m in Slack's markup: <@U…>, <!subteam^S…>, <!here>,
// <!channel>.
func mentionText(m string) string {
	switch {
	case m == "@here":
		return "<!here>"
	case m == "@channel":
		return "<!channel>"
	case strings.HasPrefix(m, "S"):
		return "<!subteam^" + m + ">"
	}
	return "<@" + m + ">"
}

// WithMentions is msg with mentions (see Route.Mentions) put in: a section
// right after the header and the start of the fallback text.
func WithMentions(msg slack.WebhookMessage, mentions []string) slack.WebhookMessage {
	if len(mentions) == 0 {
		return msg
	}
	parts := make([]string, len(mentions))
	for i, m := range mentions {
		parts[i] = mentionText(m)
	}
	line := strings.Join(parts, " ")
	msg.Text = clipEscaped(line+" "+msg.Text, maxFallback)
	if msg.Blocks != nil {
		blocks := slices.Clone(msg.Blocks.BlockSet)
		at := min(1, len(blocks))
		sec := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, line, false, false), nil, nil)
		blocks = slices.Insert(blocks, at, slack.Block(sec))
		if len(blocks) > maxBlocks {
			blocks = blocks[:maxBlocks]
		}
		msg.Blocks = &slack.Blocks{BlockSet: blocks}
	}
	return msg
}
