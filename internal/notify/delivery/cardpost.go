package delivery

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
)

// sendCard brings a task's card up to date with one event: it applies the
// event to the card record, opens the card (a top-level post) when the
// task has none in this channel, otherwise redraws it in place
// (chat.update) and posts the transition as a reply in the card's thread.
// The record is written (CAS) before the reply, so a retry or a restart
// finds the event applied and the card where it is; the reply itself is
// made exactly once by postOnce. The event that opens the card gets no
// reply (the card says it) unless it brings a log tail (tailReply).
func (c *channelDest) sendCard(ctx context.Context, it *item) error {
	key, rec, rev, err := c.cardOf(ctx, it)
	if err != nil {
		return err
	}
	applied := rec.Apply(it.env)
	switch {
	case !applied && rec.TS == "" && rec.Thread != "":
		return nil // redelivered after its grouped message listed it
	case rec.TS == "":
		return c.openCard(ctx, key, rec, rev, it)
	}
	card := c.draw(ctx, rec)
	err = c.bot.Update(ctx, rec.Channel, rec.TS, card, rec.OpenedBy, partCard)
	if errors.Is(err, slackwire.ErrMessageGone) {
		it.log.Warn().Err(err).Msg("slack: the task's card was deleted; opening a new one")
		rec.TS, rec.Channel = "", ""
		return c.openCard(ctx, key, rec, rev, it)
	}
	if err != nil {
		return err
	}
	if applied {
		if _, err := c.cards.write(ctx, key, rec, rev); err != nil {
			return err
		}
	}
	if rec.OpenedBy == it.env.ID {
		return c.tailReply(ctx, rec, it) // redelivered after its card was opened
	}
	reply := slackmsg.WithMentions(slackmsg.RenderReply(it.env), c.mentions)
	_, _, err = c.postOnce(ctx, rec.thread(), reply, it, partReply)
	return err
}

// openCard posts the card of a task that has none and records where it
// is: at the top level, or as a reply in the thread of the grouped message
// that listed the task (rec.Thread); then the event's log tail, if any, as
// a reply (tailReply). A record that cannot be written after the post is
// tried again with the same event; the look-up then finds the card instead
// of opening a second one.
func (c *channelDest) openCard(ctx context.Context, key string, rec *cardRecord, rev uint64, it *item) error {
	rec.OpenedBy = it.env.ID
	card := slackmsg.WithMentions(c.draw(ctx, rec), c.mentions)
	ch, ts, err := c.postOnce(ctx, rec.Thread, card, it, partCard)
	if errors.Is(err, slackwire.ErrMessageGone) && rec.Thread != "" {
		it.log.Warn().Err(err).Msg("slack: the grouped message that listed the task was deleted; opening its card at the top level")
		rec.Thread = ""
		ch, ts, err = c.postOnce(ctx, "", card, it, partCard)
	}
	if err != nil {
		return err
	}
	if ch == "" {
		ch = c.name
	}
	rec.Channel, rec.TS = ch, ts
	if _, err := c.cards.write(ctx, key, rec, rev); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("card of task %s written by another replica meanwhile: %w", it.env.Data.TaskID, err)
		}
		c.unsure[it.env.ID+"/"+partCard] = slackwire.TSTime(ts) // taken: the look-up finds it from its own ts
		return err
	}
	return c.tailReply(ctx, rec, it)
}

// tailReply posts, for the event that opened the card, its reply when it
// brings a failure's or a stall's log tail, which the card does not show;
// any other opening event gets none: the card says it.
func (c *channelDest) tailReply(ctx context.Context, rec *cardRecord, it *item) error {
	if !slackmsg.HasLogTail(it.env.Data) {
		return nil
	}
	_, _, err := c.postOnce(ctx, rec.thread(), slackmsg.RenderReply(it.env), it, partReply)
	return err
}

// cardOf reads the card record of it's task (an empty one when it has
// none yet) with its key and revision.
func (c *channelDest) cardOf(ctx context.Context, it *item) (string, *cardRecord, uint64, error) {
	key := cardKey(c.route, c.name, it.env.Data)
	rec, rev, err := c.cards.read(ctx, key)
	if err != nil {
		return key, nil, 0, err
	}
	if rec == nil {
		rec = &cardRecord{}
	}
	return key, rec, rev, nil
}
