package delivery

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackact"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/retry"
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
//
// A click may come between the card's post and the save of its record
// (the record needs the ts Slack answers): while the record found is
// none or an older card's, it is read again for up to recordLag; a newer
// card's record means ref's card was replaced, and the newer shows the
// click when next drawn.
func (c *channelDest) redraw(ctx context.Context, ref slackact.CardRef) error {
	d := notify.Data{ProjectID: ref.Project, TaskID: ref.TaskID}
	until := time.Now().Add(recordLag)
	for {
		rec, err := c.cardFor(ctx, d)
		switch {
		case err != nil:
			return err
		case rec != nil && rec.TS == ref.TS:
			return c.bot.Update(ctx, rec.Channel, rec.TS, c.draw(ctx, rec), rec.OpenedBy, partCard)
		case rec != nil && !tsBefore(rec.TS, ref.TS), time.Now().After(until):
			return nil
		}
		if err := retry.SleepUntil(ctx, time.Now().Add(recordLag/20)); err != nil {
			return err
		}
	}
}

// recordLag bounds how long a click waits for the record of the card it
// was made on.
const recordLag = 2 * time.Second

// tsBefore says whether Slack message ts a ("1796234595.023333") is
// earlier than b: seconds, then the fraction (Slack's fixed six digits).
func tsBefore(a, b string) bool {
	as, af, _ := strings.Cut(a, ".")
	bs, bf, _ := strings.Cut(b, ".")
	if len(as) != len(bs) {
		return len(as) < len(bs)
	}
	if as != bs {
		return as < bs
	}
	return af < bf
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
