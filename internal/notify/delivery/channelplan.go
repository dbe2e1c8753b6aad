package delivery

import (
	"context"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
)

// Bot mode in a burst: a task's first event opens its card, a top-level
// message; 200 tasks failing at once would open 200 of them, each a
// channel notification. Tasks without a card in a batch are grouped
// instead, under the same rule and limits as webhook mode (groups,
// slack.group_min, 50 tasks a message): one grouped message lists them,
// and becomes the parent of their conversations. The cards bucket records
// it (cardRecord.Thread), so a later event of such a task opens its card
// as a reply in that thread, and every later change redraws the card and
// adds a reply there. The burst is told at the pace of its grouped
// messages; the cards open only when their task moves again.

// markCardless marks the card events of items that are the
// first of their task in the batch and whose task has no card record in
// this channel. A record that cannot be read is taken as there: the event
// then takes the card path, which reads it again and retries.
func (c *channelDest) markCardless(ctx context.Context, items []*item) {
	seen := map[string]bool{}
	for _, it := range items {
		d := it.env.Data
		if !slackmsg.CardEvent(d) || seen[d.TaskID] {
			continue
		}
		seen[d.TaskID] = true
		rec, _, err := c.cards.read(ctx, cardKey(c.route, c.name, d))
		it.cardless = err == nil && rec == nil
	}
}

// plan plans a batch in the channel. The first events of tasks without a
// card are grouped as in webhook mode: a group of at least GroupMin is
// posted as grouped messages (sendGroup), a smaller one, or any with
// NoGrouping, opens a card per task. Every other event of a task goes to
// its card, one at a time and in stream order, after the grouped messages
// (so after its task's first event); the events that are on no card
// (a task the watcher cannot see, or can again) are top-level
// messages, grouped, and the watcher's own blindness last, one message an
// event (channelblind.go): the order between a task and the API is not
// kept in webhook mode either.
func (c *channelDest) plan(ctx context.Context, items []*item) []post {
	c.markCardless(ctx, items)
	var cardless, cards, blind, rest []*item
	for _, it := range items {
		switch {
		case watcherBlind(it.env.Data):
			blind = append(blind, it)
		case !slackmsg.CardEvent(it.env.Data):
			rest = append(rest, it)
		case it.cardless:
			cardless = append(cardless, it)
		default:
			cards = append(cards, it)
		}
	}
	posts := c.group.plan(cardless, cardPosts, func(msg slack.WebhookMessage, items []*item) post {
		note := slackmsg.ThreadNote(msg)
		return post{msg: &note, items: items, part: partGroup}
	})
	posts = append(posts, cardPosts(cards)...)
	posts = append(posts, topLevel(c.group.top(rest))...)
	return append(posts, blindPosts(c.group, blind)...)
}

// topLevel marks posts as top-level messages of their own.
func topLevel(posts []post) []post {
	for i := range posts {
		posts[i].part = partTop
	}
	return posts
}

// cardPosts sends each event to its task's card.
func cardPosts(items []*item) []post {
	posts := make([]post, len(items))
	for i, it := range items {
		posts[i] = post{items: []*item{it}, part: partCard}
	}
	return posts
}

// split posts the events of a refused grouped message one by one: each
// to its card, or each as a message of its own.
func (c *channelDest) split(p post) []post {
	if p.part == partGroup {
		return cardPosts(p.items)
	}
	return topLevel(c.group.single(p.items))
}

// send delivers one post: a grouped message (sendGroup), a card update
// plus thread reply (sendCard), the watcher's blindness (sendBlind) or a
// top-level message.
func (c *channelDest) send(ctx context.Context, p post) error {
	switch p.part {
	case partGroup:
		return c.sendGroup(ctx, p)
	case partCard:
		return c.sendCard(ctx, p.items[0])
	case partBlind:
		return c.sendBlind(ctx, p.items[0], *p.msg)
	}
	_, _, err := c.postOnce(ctx, "", *p.msg, p.items[0], partTop)
	return err
}

// sendGroup posts a grouped message of tasks without a card (once: see
// postOnce) and records it as each task's thread; each event is applied to
// its task's record, so that the card, when it opens, shows it. A record
// that cannot be written fails the post, which is tried again: the look-up
// then finds the grouped message instead of posting it twice.
func (c *channelDest) sendGroup(ctx context.Context, p post) error {
	first := p.items[0]
	ch, ts, err := c.postOnce(ctx, "", *p.msg, first, partGroup)
	if err != nil {
		return err
	}
	if ch == "" {
		ch = c.name
	}
	for _, it := range p.items {
		if err := c.listed(ctx, it, ch, ts); err != nil {
			c.unsure[first.env.ID+"/"+partGroup] = slackwire.TSTime(ts)
			return err
		}
	}
	return nil
}

// listed records that the grouped message at ts listed it: the
// task's conversation is in that message's thread, unless it has one
// already (another replica, or an earlier run, opened it meanwhile).
func (c *channelDest) listed(ctx context.Context, it *item, channel, ts string) error {
	key, rec, rev, err := c.cardOf(ctx, it)
	if err != nil {
		return err
	}
	applied := rec.Apply(it.env)
	if rec.TS == "" && rec.Thread == "" {
		rec.Channel, rec.Thread, applied = channel, ts, true
	}
	if !applied {
		return nil
	}
	_, err = c.cards.write(ctx, key, rec, rev)
	return err
}
