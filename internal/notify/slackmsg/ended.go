package slackmsg

import (
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify"
)

// Ended redraws msg, the message of a watch_degraded (the watcher blind to
// the API, its Slack delivery or a store), once its watch_recovered is
// known: a last line says when the blindness ended, how long it lasted,
// and that the recovery is in the thread.
func Ended(msg slack.WebhookMessage, degraded, recovered notify.Envelope) slack.WebhookMessage {
	line := emojiRecovered + " recovered at " + recovered.Time.UTC().Format("15:04:05") + " UTC"
	if d := recovered.Time.Sub(degraded.Time); d > 0 {
		line += ", after " + Humanize(d.Round(time.Second))
	}
	line += ": see the thread"
	msg.Text = clip(msg.Text+" (recovered)", maxFallback)
	return withNote(msg, line)
}
