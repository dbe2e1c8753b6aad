package delivery

import (
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
)

// grouping is the rule that turns a batch's events into messages of their
// own: a group of at least min like events (groups) becomes grouped
// messages (RenderGroup), any other event a message of its own (Render);
// off posts every event alone. Each event is in exactly one message.
type grouping struct {
	render *slackmsg.Renderer
	min    int
	off    bool
}

// top plans items as messages of their own: grouped, or one per event;
// with grouping off, every event alone in stream order.
func (g grouping) top(items []*item) []post {
	if g.off {
		return g.single(items)
	}
	return g.plan(items, g.single, func(msg slack.WebhookMessage, items []*item) post {
		return post{msg: &msg, items: items}
	})
}

// plan walks the groups of items in order: a group that may be grouped
// becomes the posts grouped makes of each part of RenderGroup, any other
// the posts alone makes of its events.
func (g grouping) plan(items []*item, alone func([]*item) []post, grouped func(slack.WebhookMessage, []*item) post) []post {
	var posts []post
	for _, group := range groups(items) {
		if g.off || len(group) < g.min {
			posts = append(posts, alone(group)...)
			continue
		}
		rest := group
		for _, part := range g.render.RenderGroup(envelopes(group)) {
			posts = append(posts, grouped(part.Msg, rest[:part.Events]))
			rest = rest[part.Events:]
		}
	}
	return posts
}

// single is one message per event.
func (g grouping) single(items []*item) []post {
	posts := make([]post, len(items))
	for i, it := range items {
		msg := g.render.Render(it.env)
		posts[i] = post{msg: &msg, items: []*item{it}}
	}
	return posts
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
