// Package slackwire reaches Slack: an incoming webhook (WebhookSender),
// the Web API as a bot (Bot: posts with metadata, updates, the look-up of
// a post whose answer was lost) and the console of `watcher demo`
// (ConsoleSender). Every answer is sorted into what the delivery must do:
// accepted (nil), rate-limited (*slack.RateLimitedError), dead
// (ErrDeadDestination), permanent (ErrPermanent), ambiguous (Ambiguous:
// Slack may have taken it), a message to update that is gone
// (ErrMessageGone); no error text holds a webhook URL or a token. It is
// named apart from slack-go's package slack, which it drives.
package slackwire
