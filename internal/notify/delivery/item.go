package delivery

import (
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify"
)

// item is one fetched event on its way to Slack.
type item struct {
	msg       jetstream.Msg
	env       notify.Envelope
	seq       uint64 // stream sequence
	delivered uint64 // JetStream's delivery count, 1 on first delivery
	log       zerolog.Logger
	// cardless: in a channel, the event is the batch's first of a task
	// that has no card record there (see channel.markCardless).
	cardless bool
	// opens: once delivered, the event opens (or carries on) its task's
	// incident, which is reminded (see planIncidents).
	opens bool
}

// post is one Slack message and the events it carries, in stream order,
// as its destination planned it.
type post struct {
	items []*item
	// msg is the message, rendered once, when it was planned; nil for a
	// card post, whose card is drawn at send time from its record.
	msg *slack.WebhookMessage
	// part is, in a channel, the part of a task's conversation the post
	// is (partCard, partGroup or partTop); "" for a webhook.
	part string
}

// delivered is the highest delivery count among the message's events: the
// backoff of its first retry, so that it keeps growing across restarts.
func (p post) delivered() uint64 {
	var d uint64 = 1
	for _, it := range p.items {
		d = max(d, it.delivered)
	}
	return d
}

// envelopes are the events of items, for rendering.
func envelopes(items []*item) []notify.Envelope {
	envs := make([]notify.Envelope, len(items))
	for i, it := range items {
		envs[i] = it.env
	}
	return envs
}
