package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
)

// The bounds of the look-up for a post whose answer was lost (see
// postOnce).
const (
	// slackSkew is how far before the ts Slack last answered the look-up
	// for a lost post begins: both are Slack's clock, so only its own
	// servers' drift is allowed for.
	slackSkew = time.Minute
	// clockSkew is how far before the event's observation time the look-up
	// for a post made by an earlier run begins: the observation is this
	// side's clock, the ts Slack's.
	clockSkew = time.Hour
)

// The parts of a task's conversation a post can be.
const (
	partCard  = "card"  // the task's live status card, top level
	partReply = "reply" // a transition, in the card's thread
	partTop   = "top"   // a message of its own (no card): API, watcher, grouped
	partGroup = "group" // a grouped message of tasks without a card, their thread's parent
)

// botDest is a lane's destination in bot-token mode: a channel reached
// through the Bot. Only the lane's goroutine uses it.
type botDest struct {
	bot     *slackwire.Bot
	channel string // as configured: an id (C…, G…) or #name
	// channelID is the id Slack answered with, which the history look-up
	// needs when the channel is configured by name.
	channelID string
	// unsure are the posts (event id + part) whose last attempt failed
	// ambiguously: the next attempt looks for them first, among the
	// messages Slack took since the time each maps to (the ts Slack last
	// answered before that attempt; zero when none had been).
	unsure map[string]time.Time
	// answered is the ts of the latest post Slack answered, as a time.
	answered time.Time
}

func newBotDest(b *slackwire.Bot, channel string) *botDest {
	d := &botDest{bot: b, channel: channel, unsure: map[string]time.Time{}}
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
	switch {
	case p.group:
		return s.sendGroup(ctx, p)
	case p.card:
		return s.sendCard(ctx, p.items[0])
	}
	first := p.items[0]
	_, _, err := s.postOnce(ctx, "", p.msg, first, partTop)
	return err
}

// postOnce posts msg as part of its task's conversation (in the thread of
// threadTS, if set) unless Slack already has it: when the last attempt of
// this post failed ambiguously, or a redelivery says an earlier run may
// have posted it before it could record so, it first looks for the post's
// metadata in the channel's history (or the thread's replies), and takes
// the message found. This is the exactly-once half that Slack allows: a
// post whose answer was lost is found, not doubled.
func (s *session) postOnce(ctx context.Context, threadTS string, msg slack.WebhookMessage, it *item, part string) (channelID, ts string, err error) {
	b := s.bot
	eventID := it.env.ID
	key := eventID + "/" + part
	if since, ok := b.lookFrom(key, it); ok {
		if b.channelID == "" {
			s.o.Logger.Warn().Str("event_id", eventID).
				Msg("slack: cannot look for an earlier post: the channel is configured by name and its id is not known yet; posting (it may show twice)")
		} else {
			ts, err := b.bot.Find(ctx, b.channelID, threadTS, eventID, part, since)
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
	ch, ts, err := b.bot.PostPart(ctx, b.channel, threadTS, msg, eventID, part)
	if err != nil {
		if slackwire.Ambiguous(err) {
			b.unsure[key] = b.answered
		}
		return "", "", err
	}
	delete(b.unsure, key)
	if t := slackwire.TSTime(ts); t.After(b.answered) {
		b.answered = t
	}
	if ch != "" {
		b.channelID = ch
	}
	return ch, ts, nil
}

// lookFrom says whether the post key of it must be looked for before it
// is made, and since when Slack may hold it: for an attempt of this run
// that failed ambiguously, shortly before the last ts Slack had answered
// then (Slack's own clock); for a redelivery, which an earlier run may
// have posted, an hour before the event was observed (this side's clock,
// which may be off); zero (everything) when neither is known.
func (d *botDest) lookFrom(key string, it *item) (time.Time, bool) {
	if at, ok := d.unsure[key]; ok && !at.IsZero() {
		return at.Add(-slackSkew), true
	} else if !ok && it.delivered <= 1 {
		return time.Time{}, false
	}
	if it.env.Time.IsZero() {
		return time.Time{}, true
	}
	return it.env.Time.Add(-clockSkew), true
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
	key, rec, rev, err := s.cardOf(ctx, it)
	if err != nil {
		return err
	}
	applied := rec.Apply(it.env)
	switch {
	case !applied && rec.TS == "" && rec.Thread != "":
		return nil // redelivered after its grouped message listed it
	case rec.TS == "":
		return s.openCard(ctx, key, rec, rev, it)
	}
	card := slackmsg.RenderCard(&rec.Card)
	err = s.bot.bot.Update(ctx, rec.Channel, rec.TS, card, rec.OpenedBy, partCard)
	if errors.Is(err, slackwire.ErrMessageGone) {
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
	reply := slackmsg.WithMentions(slackmsg.RenderReply(it.env), s.mentions)
	_, _, err = s.postOnce(ctx, rec.thread(), reply, it, partReply)
	return err
}

// openCard posts the card of a task that has none and records where it
// is: at the top level, or as a reply in the thread of the grouped message
// that listed the task (rec.Thread). A record that cannot be written after the post is tried again with
// the same event; the look-up then finds the card instead of opening a
// second one.
func (s *session) openCard(ctx context.Context, key string, rec *cardRecord, rev uint64, it *item) error {
	rec.OpenedBy = it.env.ID
	card := slackmsg.WithMentions(slackmsg.RenderCard(&rec.Card), s.mentions)
	ch, ts, err := s.postOnce(ctx, rec.Thread, card, it, partCard)
	if errors.Is(err, slackwire.ErrMessageGone) && rec.Thread != "" {
		it.log.Warn().Err(err).Msg("slack: the grouped message that listed the task was deleted; opening its card at the top level")
		rec.Thread = ""
		ch, ts, err = s.postOnce(ctx, "", card, it, partCard)
	}
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
		s.bot.unsure[it.env.ID+"/"+partCard] = slackwire.TSTime(ts) // taken: the look-up finds it from its own ts
		return err
	}
	return nil
}

// cardOf reads the card record of it's task (an empty one when it has
// none yet) with its key and revision.
func (s *session) cardOf(ctx context.Context, it *item) (string, *cardRecord, uint64, error) {
	key := cardKey(s.name, s.bot.channel, it.env.Data)
	rec, rev, err := s.cards.read(ctx, key)
	if err != nil {
		return key, nil, 0, err
	}
	if rec == nil {
		rec = &cardRecord{}
	}
	return key, rec, rev, nil
}
