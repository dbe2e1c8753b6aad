package delivery

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
)

// Sender delivers one rendered message. Errors tell the caller what to do:
// a *slack.RateLimitedError says when to try again, an error wrapping
// slackwire.ErrPermanent says never to try this message again, an error wrapping
// slackwire.ErrDeadDestination says no message can get through until someone fixes
// the destination, any other error is worth a retry.
type Sender interface {
	Send(ctx context.Context, msg *slack.WebhookMessage) error
}

// webhookDest is a destination reached through a Sender (an incoming webhook,
// or the console in demo mode): one message per event or group.
type webhookDest struct {
	sender Sender
	group  grouping
}

func (w *webhookDest) prepare(context.Context, jetstream.JetStream) error { return nil }

func (w *webhookDest) plan(_ context.Context, items []*item) []post { return w.group.top(items) }

func (w *webhookDest) send(ctx context.Context, p post) error { return w.sender.Send(ctx, p.msg) }

func (w *webhookDest) split(p post) []post { return w.group.single(p.items) }

func (w *webhookDest) incident(context.Context, notify.Data) (string, error) { return "", nil }

// remind posts a short message naming the task, its status and how long
// the incident has been open.
func (w *webhookDest) remind(ctx context.Context, r *reminder, open time.Duration) error {
	msg := slackmsg.RenderReminder(r.Data, open)
	return w.sender.Send(ctx, &msg)
}
