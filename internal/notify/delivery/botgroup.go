package delivery

import (
	"context"

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

// markCardless marks, in bot mode, the card events of items that are the
// first of their task in the batch and whose task has no card record in
// this channel. A record that cannot be read is taken as there: the event
// then takes the card path, which reads it again and retries.
func (s *session) markCardless(ctx context.Context, items []*item) {
	if s.bot == nil {
		return
	}
	seen := map[string]bool{}
	for _, it := range items {
		d := it.env.Data
		if !slackmsg.CardEvent(d) || seen[d.TaskID] {
			continue
		}
		seen[d.TaskID] = true
		rec, _, err := s.cards.read(ctx, cardKey(s.name, s.bot.channel, d))
		it.cardless = err == nil && rec == nil
	}
}

// planBot plans a batch in bot mode. The first events of tasks without a
// card are grouped as in webhook mode: a group of at least GroupMin is
// posted as grouped messages (sendGroup), a smaller one, or any with
// NoGrouping, opens a card per task. Every other event of a task goes to
// its card, one at a time and in stream order, after the grouped messages
// (so after its task's first event); the events that are not a task's
// (the API's, the watcher's blindness) are top-level messages, grouped,
// last: the order between a task and the API is not kept in webhook mode
// either.
func (n *lane) planBot(items []*item) []outgoing {
	var cardless, cards, rest []*item
	for _, it := range items {
		switch {
		case !slackmsg.CardEvent(it.env.Data):
			rest = append(rest, it)
		case it.cardless:
			cardless = append(cardless, it)
		default:
			cards = append(cards, it)
		}
	}
	var posts []outgoing
	for _, group := range groups(cardless) {
		if n.o.NoGrouping || len(group) < n.o.GroupMin {
			posts = append(posts, cardPosts(group)...)
			continue
		}
		left := group
		for _, part := range n.render.RenderGroup(envelopes(group)) {
			posts = append(posts, outgoing{msg: slackmsg.ThreadNote(part.Msg), items: left[:part.Events], group: true})
			left = left[part.Events:]
		}
	}
	posts = append(posts, cardPosts(cards)...)
	return append(posts, n.planTop(rest)...)
}

// cardPosts sends each event to its task's card.
func cardPosts(items []*item) []outgoing {
	posts := make([]outgoing, len(items))
	for i, it := range items {
		posts[i] = outgoing{items: []*item{it}, card: true}
	}
	return posts
}

// sendGroup posts a grouped message of tasks without a card (once: see
// postOnce) and records it as each task's thread; each event is applied to
// its task's record, so that the card, when it opens, shows it. A record
// that cannot be written fails the post, which is tried again: the look-up
// then finds the grouped message instead of posting it twice.
func (s *session) sendGroup(ctx context.Context, p outgoing) error {
	first := p.items[0]
	ch, ts, err := s.postOnce(ctx, "", p.msg, first, partGroup)
	if err != nil {
		return err
	}
	if ch == "" {
		ch = s.bot.channel
	}
	for _, it := range p.items {
		if err := s.listed(ctx, it, ch, ts); err != nil {
			s.bot.unsure[first.env.ID+"/"+partGroup] = slackwire.TSTime(ts)
			return err
		}
	}
	return nil
}

// listed records that the grouped message at ts listed it: the
// task's conversation is in that message's thread, unless it has one
// already (another replica, or an earlier run, opened it meanwhile).
func (s *session) listed(ctx context.Context, it *item, channel, ts string) error {
	key, rec, rev, err := s.cardOf(ctx, it)
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
	_, err = s.cards.write(ctx, key, rec, rev)
	return err
}
