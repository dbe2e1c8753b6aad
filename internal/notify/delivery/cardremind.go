package delivery

import (
	"context"
	"time"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
)

// partRemind is a reminder, in the card's thread.
const partRemind = "remind"

// incident is the open incident of the card of d's task; "" without a
// card.
func (c *channelDest) incident(ctx context.Context, d notify.Data) (string, error) {
	rec, err := c.cardFor(ctx, d)
	if err != nil || rec == nil {
		return "", err
	}
	return slackmsg.Incident(&rec.Card), nil
}

// remind posts the reminder as a reply in the thread of the task's card
// (or of the grouped message that listed it); a task with no card record
// here gets a message of its own, as in webhook mode.
func (c *channelDest) remind(ctx context.Context, r *reminder, open time.Duration) error {
	rec, err := c.cardFor(ctx, r.Data)
	if err != nil {
		return err
	}
	if rec == nil || rec.thread() == "" {
		_, _, err = c.bot.PostPart(ctx, c.name, "", slackmsg.RenderReminder(r.Data, open), r.EventID, partRemind)
		return err
	}
	_, _, err = c.bot.PostPart(ctx, rec.Channel, rec.thread(), slackmsg.RenderReminderReply(r.Data, open), r.EventID, partRemind)
	return err
}
