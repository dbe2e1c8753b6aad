package delivery

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/notify"
)

// destination is where a lane's messages go: a webhook (webhook.go) or a
// channel reached through the bot (channel.go). The engine (session.go)
// consumes, orders, marks, paces and retries; it asks the destination only
// what to post and to post it. Only the lane's goroutine uses it.
type destination interface {
	// prepare sets up what the destination keeps in JetStream (a channel's
	// card records), once per delivery lease held.
	prepare(ctx context.Context, js jetstream.JetStream) error
	// plan turns a batch's postable events, in stream order, into the
	// messages to send, in order; each event is in exactly one.
	plan(ctx context.Context, items []*item) []post
	// send delivers one post. Its error tells the engine what to do (see
	// Sender).
	send(ctx context.Context, p post) error
	// split plans the events of a message Slack refused for good, one
	// post per event.
	split(p post) []post
	// incident names the open incident of d's task as its card's buttons
	// do (slackmsg.Incident); "" when there is no card (no buttons).
	incident(ctx context.Context, d notify.Data) (string, error)
	// remind posts the reminder of an incident open for open. Unlike the
	// others it is called from the reminders' goroutine (remindloop.go).
	remind(ctx context.Context, r *reminder, open time.Duration) error
}
