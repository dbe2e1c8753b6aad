package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
)

// Bot mode, the watcher's own blindness (the API as a whole, its Slack
// delivery, a store): an episode is one incident, as a task's failure is.
// Its watch_degraded is a top-level message, recorded in the cards bucket
// (blindRecord, under blindKey), and its watch_recovered a reply in that
// message's thread, which is redrawn to say the blindness has ended. A
// restart or another replica finds the record and threads the same way.

// partBlind plans a post of the watcher's blindness (sendBlind); its
// messages are partTop (the watch_degraded) and partReply.
const partBlind = "blind"

// blindThread is where a blindness episode's watch_degraded was posted in
// one channel, and the event, to redraw it when the episode ends.
type blindThread struct {
	Channel  string          `json:"channel"`
	TS       string          `json:"ts"`
	Degraded notify.Envelope `json:"degraded"`
	// Recovered is the watch_recovered that ended the episode, once the
	// message has been redrawn for it.
	Recovered string `json:"recovered,omitempty"`
}

// watcherBlind says whether an event is a blindness of the watcher
// itself, not of one task.
func watcherBlind(d notify.Data) bool {
	return d.TaskID == "" && blindKind(d.Kind)
}

// blindKey names the thread of the blindness episodes of one scope and
// error class in a lane's channel. The episodes of a key follow each
// other, each its watch_degraded then its watch_recovered, in stream
// order: the record is the latest one's.
func blindKey(route, where string, d notify.Data) string {
	sum := sha256.Sum256([]byte(route + "\x00" + where + "\x00" + d.ProjectID + "\x00" + d.Scope + "\x00" + blindClass(d)))
	return "blind." + hex.EncodeToString(sum[:16])
}

// blindPosts plans each event alone, in stream order.
func blindPosts(g grouping, items []*item) []post {
	posts := g.single(items)
	for i := range posts {
		posts[i].part = partBlind
	}
	return posts
}

// sendBlind posts a watch_degraded at the top level and records where,
// or a watch_recovered in the thread of its episode's watch_degraded. A
// record that cannot be written fails the post, which is tried again: the
// look-up then finds the message instead of posting it twice.
func (c *channelDest) sendBlind(ctx context.Context, it *item, msg slack.WebhookMessage) error {
	key := blindKey(c.route, c.name, it.env.Data)
	rec, rev, err := readRecord[blindThread](ctx, c.cards.kv, "blindness thread", key)
	if err != nil {
		return err
	}
	if it.env.Data.Kind == diff.WatchRecovered {
		return c.recovered(ctx, key, rec, rev, it, msg)
	}
	if rec != nil && rec.Degraded.ID == it.env.ID {
		return nil // redelivered after it was posted and recorded
	}
	ch, ts, err := c.postOnce(ctx, "", msg, it, partTop)
	if err != nil {
		return err
	}
	if ch == "" {
		ch = c.name
	}
	if _, err := writeRecord(ctx, c.cards.kv, "blindness thread", key, &blindThread{Channel: ch, TS: ts, Degraded: it.env}, rev); err != nil {
		c.unsure[it.env.ID+"/"+partTop] = slackwire.TSTime(ts)
		return err
	}
	return nil
}

// recovered redraws the episode's watch_degraded (once) and replies in
// its thread. One whose watch_degraded was not posted here (the record
// is another episode's, already ended, or there is none) is a message of
// its own, as is one whose watch_degraded was deleted.
func (c *channelDest) recovered(ctx context.Context, key string, rec *blindThread, rev uint64, it *item, msg slack.WebhookMessage) error {
	if rec == nil || (rec.Recovered != "" && rec.Recovered != it.env.ID) {
		_, _, err := c.postOnce(ctx, "", msg, it, partTop)
		return err
	}
	if rec.Recovered == "" {
		ended := slackmsg.Ended(c.group.render.Render(rec.Degraded), rec.Degraded, it.env)
		err := c.bot.Update(ctx, rec.Channel, rec.TS, ended, rec.Degraded.ID, partTop)
		if errors.Is(err, slackwire.ErrMessageGone) {
			it.log.Warn().Err(err).Msg("slack: the watch_degraded message was deleted; posting its recovery at the top level")
			_, _, err = c.postOnce(ctx, "", msg, it, partTop)
			return err
		}
		if err != nil {
			return err
		}
		rec.Recovered = it.env.ID
		if _, err := writeRecord(ctx, c.cards.kv, "blindness thread", key, rec, rev); err != nil {
			return err
		}
	}
	_, _, err := c.postOnce(ctx, rec.TS, msg, it, partReply)
	return err
}
