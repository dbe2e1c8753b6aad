package delivery

import (
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
)

// item is one fetched event on its way to Slack.
type item struct {
	msg       jetstream.Msg
	env       notify.Envelope
	seq       uint64 // stream sequence
	delivered uint64 // JetStream's delivery count, 1 on first delivery
	log       zerolog.Logger
	// cardless: in bot mode, the event is the batch's first of a task
	// that has no card record in this channel (see markCardless).
	cardless bool
}

// outgoing is one Slack message and the events it carries, in stream
// order.
type outgoing struct {
	msg   slack.WebhookMessage
	items []*item
	// card: in bot mode, the one event of items goes to its task's card
	// (msg is unused: the card is drawn from its record).
	card bool
	// group: in bot mode, msg is a grouped message listing items, tasks
	// without a card, and becomes their conversation's parent (sendGroup).
	group bool
}

// groups sorts a batch's postable events, walked in stream order, into
// groups of events with the same slackmsg.GroupKey, kept in the order they were
// opened. An event joins the last group opened for its key unless its
// task's previous event in the batch sits in a later group; then it opens
// a new group at the end. Groups are sent in order and list their events
// in stream order, so each task's events reach Slack in the order they
// happened; the order between tasks of one batch (one poll cycle, mostly,
// where it is only the order of the list call) is not kept.
//
// Adjacent events alone would rarely group: in a real burst the new
// statuses interleave (FULLMIGRATING, INCRMIGEATING, FAILED, ...), and a
// measured burst of 1,000 transitions made about 1.5 events per message.
func groups(items []*item) [][]*item {
	var out [][]*item
	lastOfKey := map[string]int{}  // key -> the last group opened for it
	lastOfTask := map[string]int{} // task id -> the group of its latest event
	for _, it := range items {
		key, task := slackmsg.GroupKey(it.env.Data), it.env.Data.TaskID
		g, open := lastOfKey[key]
		if t, seen := lastOfTask[task]; !open || (seen && g < t) {
			g = len(out)
			out = append(out, nil)
			lastOfKey[key] = g
		}
		out[g] = append(out[g], it)
		lastOfTask[task] = g
	}
	return out
}

// plan turns a batch's postable events into the messages to send, in
// order: a group of at least GroupMin events becomes grouped messages
// (RenderGroup), any other event a message of its own (Render); with
// NoGrouping every event is a message of its own, in stream order. Each
// event is in exactly one message.
func (n *lane) plan(items []*item) []outgoing {
	if n.bot != nil {
		return n.planBot(items)
	}
	return n.planTop(items)
}

// planTop is plan for messages of their own: grouped, or one per event.
func (n *lane) planTop(items []*item) []outgoing {
	if n.o.NoGrouping {
		return n.single(items)
	}
	var posts []outgoing
	for _, group := range groups(items) {
		if len(group) < n.o.GroupMin {
			posts = append(posts, n.single(group)...)
			continue
		}
		rest := group
		for _, part := range n.render.RenderGroup(envelopes(group)) {
			posts = append(posts, outgoing{msg: part.Msg, items: rest[:part.Events]})
			rest = rest[part.Events:]
		}
	}
	return posts
}

// single is one message per event.
func (n *lane) single(items []*item) []outgoing {
	posts := make([]outgoing, len(items))
	for i, it := range items {
		posts[i] = outgoing{msg: n.render.Render(it.env), items: []*item{it}}
	}
	return posts
}
