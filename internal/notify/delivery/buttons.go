package delivery

import (
	"context"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackact"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
)

// draw renders the card of rec: with its buttons and what was clicked
// when a buttons source is set (an error leaves the buttons on and the
// clicks unshown until the next draw), as RenderCard without one.
func (c *channelDest) draw(ctx context.Context, rec *cardRecord) slack.WebhookMessage {
	if c.buttons == nil {
		return slackmsg.RenderCard(&rec.Card)
	}
	a, err := c.buttons.CardAttention(ctx, &rec.Card)
	if err != nil {
		c.log.Warn().Err(err).Str("task_id", rec.TaskID).Msg("slack: cannot read what the card's buttons did; drawing the buttons alone")
		a = slackmsg.Attention{Buttons: true}
	}
	return slackmsg.RenderCardWith(&rec.Card, a)
}

// redraw redraws the card of ref's task in this channel if it is the
// card at ref.TS.
func (c *channelDest) redraw(ctx context.Context, ref slackact.CardRef) error {
	rec, err := c.cardFor(ctx, notify.Data{ProjectID: ref.Project, TaskID: ref.TaskID})
	if err != nil || rec == nil || rec.TS != ref.TS {
		return err
	}
	return c.bot.Update(ctx, rec.Channel, rec.TS, c.draw(ctx, rec), rec.OpenedBy, partCard)
}

// cardFor reads the card record of d's task through a bucket of its own
// (the lane's is the lane goroutine's): nil when there is none.
func (c *channelDest) cardFor(ctx context.Context, d notify.Data) (*cardRecord, error) {
	kv, err := c.js.KeyValue(ctx, c.cardsBucket)
	if err != nil {
		return nil, fmt.Errorf("cards bucket %s: %w", c.cardsBucket, err)
	}
	rec, _, err := cards{kv: kv}.read(ctx, cardKey(c.route, c.name, d))
	return rec, err
}
