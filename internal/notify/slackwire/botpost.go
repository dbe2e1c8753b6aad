package slackwire

import (
	"context"

	"github.com/slack-go/slack"
)

// Post sends msg to channel as a message of its own (no card, no thread,
// no metadata) and returns the channel id and the message's ts: `watcher
// notify-test` for a bot-mode destination.
func (b *Bot) Post(ctx context.Context, channel string, msg slack.WebhookMessage) (string, string, error) {
	ch, ts, err := b.api.PostMessageContext(ctx, channel, msgOptions(msg)...)
	if err != nil {
		return "", "", botError("chat.postMessage", err)
	}
	return ch, ts, nil
}
