package delivery

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

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

// channelDest is a destination in bot-token mode: a channel reached through
// the Bot, where each task has a live status card, updated in place, with
// its transitions as thread replies (cardpost.go), and a burst of tasks
// without a card is grouped (channelplan.go). It owns its card records and
// what it knows of its own posts. Only the lane's goroutine uses it.
type channelDest struct {
	// js opens the cards bucket for the goroutines other than the
	// lane's: a click's, the reminders' (cardsKV).
	js   jetstream.JetStream
	bot  *slackwire.Bot
	name string // as configured: an id (C…, G…) or #name
	// id is the id Slack answered with, which the history look-up needs
	// when the channel is configured by name.
	id string
	// route names the lane ("" for the default one), whose cards are its
	// own (cardKey).
	route    string
	mentions []string
	group    grouping
	// buttons, when set, says what the cards show of their buttons;
	// nil: no buttons.
	buttons Buttons
	// cards are the card records, in the bucket named cardsBucket, set up
	// by prepare.
	cardsBucket string
	cards       cards
	// unsure are the posts (event id + part) whose last attempt failed
	// ambiguously: the next attempt looks for them first, among the
	// messages Slack took since the time each maps to (the ts Slack last
	// answered before that attempt; zero when none had been).
	unsure map[string]time.Time
	// answered is the ts of the latest post Slack answered, as a time.
	answered time.Time
	log      zerolog.Logger
}

func newChannelDest(js jetstream.JetStream, name, route string, mentions []string, g grouping, o Options) *channelDest {
	c := &channelDest{
		js: js, bot: o.Bot, name: name, route: route, mentions: mentions, group: g, buttons: o.Buttons,
		cardsBucket: o.CardsBucket, unsure: map[string]time.Time{}, log: o.Logger,
	}
	if !strings.HasPrefix(name, "#") {
		c.id = name
	}
	return c
}

// prepare creates (or updates) the bucket of card records.
func (c *channelDest) prepare(ctx context.Context, js jetstream.JetStream) error {
	kv, err := createBucket(ctx, js, "cards", c.cardsBucket, "watcher: where each task's Slack card is, and its timeline", cardsTTL)
	if err != nil {
		return err
	}
	c.cards = cards{kv: kv}
	return nil
}

// postOnce posts msg as part of its task's conversation (in the thread of
// threadTS, if set) unless Slack already has it: when the last attempt of
// this post failed ambiguously, or a redelivery says an earlier run may
// have posted it before it could record so, it first looks for the post's
// metadata in the channel's history (or the thread's replies), and takes
// the message found. This is the exactly-once half that Slack allows: a
// post whose answer was lost is found, not doubled.
func (c *channelDest) postOnce(ctx context.Context, threadTS string, msg slack.WebhookMessage, it *item, part string) (channelID, ts string, err error) {
	eventID := it.env.ID
	key := eventID + "/" + part
	if since, ok := c.lookFrom(key, it); ok {
		if c.id == "" {
			c.log.Warn().Str("event_id", eventID).
				Msg("slack: cannot look for an earlier post: the channel is configured by name and its id is not known yet; posting (it may show twice)")
		} else {
			ts, err := c.bot.Find(ctx, c.id, threadTS, eventID, part, since)
			if err != nil {
				return "", "", fmt.Errorf("look for an earlier post of event %s: %w", eventID, err)
			}
			if ts != "" {
				delete(c.unsure, key)
				c.log.Info().Str("event_id", eventID).Str("part", part).Msg("slack: an earlier attempt was posted after all; not posting again")
				return c.id, ts, nil
			}
		}
	}
	ch, ts, err := c.bot.PostPart(ctx, c.name, threadTS, msg, eventID, part)
	if err != nil {
		if slackwire.Ambiguous(err) {
			c.unsure[key] = c.answered
		}
		return "", "", err
	}
	delete(c.unsure, key)
	if t := slackwire.TSTime(ts); t.After(c.answered) {
		c.answered = t
	}
	if ch != "" {
		c.id = ch
	}
	return ch, ts, nil
}

// lookFrom says whether the post key of it must be looked for before it
// is made, and since when Slack may hold it: for an attempt of this run
// that failed ambiguously, shortly before the last ts Slack had answered
// then (Slack's own clock); for a redelivery, which an earlier run may
// have posted, an hour before the event was observed (this side's clock,
// which may be off); zero (everything) when neither is known.
func (c *channelDest) lookFrom(key string, it *item) (time.Time, bool) {
	if at, ok := c.unsure[key]; ok && !at.IsZero() {
		return at.Add(-slackSkew), true
	} else if !ok && it.delivered <= 1 {
		return time.Time{}, false
	}
	if it.env.Time.IsZero() {
		return time.Time{}, true
	}
	return it.env.Time.Add(-clockSkew), true
}
