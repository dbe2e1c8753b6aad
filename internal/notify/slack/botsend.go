package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/slack-go/slack"
)

// botDest is a lane's destination in bot-token mode: a channel reached
// through the Bot. Only the lane's goroutine uses it.
type botDest struct {
	bot     *Bot
	channel string // as configured: an id (C…, G…) or #name
	// channelID is the id Slack answered with, which the history look-up
	// needs when the channel is configured by name.
	channelID string
	// unsure are the posts (event id + part) whose last attempt failed
	// ambiguously: the next attempt looks for them first.
	unsure map[string]bool
}

func newBotDest(b *Bot, channel string) *botDest {
	d := &botDest{bot: b, channel: channel, unsure: map[string]bool{}}
	if !strings.HasPrefix(channel, "#") {
		d.channelID = channel
	}
	return d
}

// send delivers one message of the lane: through the webhook Sender, or
// in bot mode as a card update plus thread reply (card) or a top-level
// message.
func (s *session) send(ctx context.Context, p outgoing) error {
	if s.bot == nil {
		return s.sender.Send(ctx, &p.msg)
	}
	if p.card {
		return s.sendCard(ctx, p.items[0])
	}
	first := p.items[0]
	_, _, err := s.postOnce(ctx, "", p.msg, first.env.ID, partTop, first.delivered > 1)
	return err
}

// postOnce posts msg (in the thread of threadTS, if set) unless Slack
// already has it: when the last attempt of this post failed ambiguously,
// or redelivered says an earlier run may have posted it before it could
// record so, it first looks for the post's metadata in the channel's
// history (or the thread's replies), and takes the message found. This is
// the exactly-once half that Slack allows: a post whose answer was lost is
// found, not doubled.
func (s *session) postOnce(ctx context.Context, threadTS string, msg slack.WebhookMessage, eventID, part string, redelivered bool) (channelID, ts string, err error) {
	b := s.bot
	key := eventID + "/" + part
	if b.unsure[key] || redelivered {
		if b.channelID == "" {
			s.o.Logger.Warn().Str("event_id", eventID).
				Msg("slack: cannot look for an earlier post: the channel is configured by name and its id is not known yet; posting (it may show twice)")
		} else {
			ts, err := b.bot.find(ctx, b.channelID, threadTS, eventID, part)
			if err != nil {
				return "", "", fmt.Errorf("look for an earlier post of event %s: %w", eventID, err)
			}
			if ts != "" {
				delete(b.unsure, key)
				s.o.Logger.Info().Str("event_id", eventID).Str("part", part).Msg("slack: an earlier attempt was posted after all; not posting again")
				return b.channelID, ts, nil
			}
		}
	}
	ch, ts, err := b.bot.post(ctx, b.channel, threadTS, msg, metadata(eventID, part))
	if err != nil {
		if ambiguous(err) {
			b.unsure[key] = true
		}
		return "", "", err
	}
	delete(b.unsure, key)
	if ch != "" {
		b.channelID = ch
	}
	return ch, ts, nil
}

// sendCard brings a task's card up to date with one event: it applies the
// event to the card record, opens the card (a top-level post) when the
// task has none in this channel, otherwise redraws it in place
// (chat.update) and posts the transition as a reply in the card's thread.
// The record is written (CAS) before the reply, so a retry or a restart
// finds the event applied and the card where it is; the reply itself is
// made exactly once by postOnce. The event that opens the card gets no
// reply: the card says it.
func (s *session) sendCard(ctx context.Context, it *item) error {
	key := cardKey(s.name, s.bot.channel, it.env.Data)
	rec, rev, err := s.cards.read(ctx, key)
	if err != nil {
		return err
	}
	if rec == nil {
		rec = &cardRecord{}
	}
	applied := rec.apply(it.env)
	if rec.TS == "" {
		return s.openCard(ctx, key, rec, rev, it)
	}
	card := RenderCard(rec)
	err = s.bot.bot.update(ctx, rec.Channel, rec.TS, card, metadata(rec.OpenedBy, partCard))
	if errors.Is(err, errMessageGone) {
		it.log.Warn().Err(err).Msg("slack: the task's card was deleted; opening a new one")
		rec.TS, rec.Channel = "", ""
		return s.openCard(ctx, key, rec, rev, it)
	}
	if err != nil {
		return err
	}
	if applied {
		if _, err := s.cards.write(ctx, key, rec, rev); err != nil {
			return err
		}
	}
	if rec.OpenedBy == it.env.ID {
		return nil // redelivered after its card was opened: nothing to reply
	}
	reply := WithMentions(RenderReply(it.env), s.mentions)
	_, _, err = s.postOnce(ctx, rec.TS, reply, it.env.ID, partReply, it.delivered > 1)
	return err
}

// openCard posts the card of a task that has none and records where it
// is. A record that cannot be written after the post is tried again with
// the same event; the look-up then finds the card instead of opening a
// second one.
func (s *session) openCard(ctx context.Context, key string, rec *cardRecord, rev uint64, it *item) error {
	rec.OpenedBy = it.env.ID
	card := WithMentions(RenderCard(rec), s.mentions)
	ch, ts, err := s.postOnce(ctx, "", card, it.env.ID, partCard, it.delivered > 1)
	if err != nil {
		return err
	}
	if ch == "" {
		ch = s.bot.channel
	}
	rec.Channel, rec.TS = ch, ts
	if _, err := s.cards.write(ctx, key, rec, rev); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("card of task %s written by another replica meanwhile: %w", it.env.Data.TaskID, err)
		}
		s.bot.unsure[it.env.ID+"/"+partCard] = true
		return err
	}
	return nil
}
