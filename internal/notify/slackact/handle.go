package slackact

import (
	"context"
	"fmt"
	"strings"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
)

// click is one button pressed: who, where (the card's channel, ts and
// thread) and what it carries.
type click struct {
	user, channel, ts, thread string
	action                    string
	v                         slackmsg.ButtonValue
}

func (c click) ref() CardRef {
	return CardRef{Channel: c.channel, TS: c.ts, Project: c.v.Project, TaskID: c.v.TaskID, Region: c.v.Region, Incident: c.v.Incident}
}

func (c click) log(e *zerolog.Event) *zerolog.Event {
	return e.Str("action", c.action).Str("user", c.user).Str("project", c.v.Project).Str("task_id", c.v.TaskID).Str("incident", c.v.Incident)
}

// handle acts on each of a block_actions payload's buttons that is the
// watcher's; the console link and anything else are left alone.
func (l *Listener) handle(ctx context.Context, cb slack.InteractionCallback) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	for _, a := range cb.ActionCallback.BlockActions {
		switch a.ActionID {
		case slackmsg.ActionAcknowledge, slackmsg.ActionSilence, slackmsg.ActionShowLog:
		default:
			continue
		}
		c := click{user: cb.User.ID, channel: cb.Container.ChannelID, ts: cb.Container.MessageTs, thread: cb.Container.ThreadTs, action: a.ActionID}
		if c.channel == "" {
			c.channel = cb.Channel.ID
		}
		if c.thread == "" {
			c.thread = c.ts
		}
		v, err := slackmsg.DecodeButtonValue(a.Value)
		if err != nil {
			l.o.Logger.Warn().Err(err).Str("action", a.ActionID).Str("user", c.user).Msg("slack click: not a card of this watcher; ignored")
			continue
		}
		c.v = v
		if l.mayAct(ctx, c) {
			l.act(ctx, c)
		}
	}
}

// mayAct says whether the clicker may act, and tells one who may not.
func (l *Listener) mayAct(ctx context.Context, c click) bool {
	ok, err := l.actors.allowed(ctx, c.user)
	switch {
	case err != nil:
		l.failed.Add(1)
		c.log(l.o.Logger.Warn().Err(err)).Msg("slack click refused: user groups unreadable")
		l.tell(ctx, c, "The watcher could not check your user groups, so it did nothing. Try again in a minute.")
		return false
	case !ok:
		l.refused.Add(1)
		c.log(l.o.Logger.Info()).Msg("slack click refused: not a member of slack.actors")
		groups := make([]string, len(l.o.Actors))
		for i, g := range l.o.Actors {
			groups[i] = "<!subteam^" + g + ">"
		}
		l.tell(ctx, c, "You are not allowed to act on the watcher's cards: only members of "+strings.Join(groups, ", ")+" are.")
		return false
	}
	return true
}

func (l *Listener) act(ctx context.Context, c click) {
	var err error
	var did bool
	switch c.action {
	case slackmsg.ActionAcknowledge:
		did, err = l.acknowledge(ctx, c)
	case slackmsg.ActionSilence:
		did, err = l.silence(ctx, c)
	case slackmsg.ActionShowLog:
		did, err = l.showLog(ctx, c)
	}
	switch {
	case err != nil:
		l.failed.Add(1)
		c.log(l.o.Logger.Warn().Err(err)).Msg("slack click failed")
		l.tell(ctx, c, "The watcher could not do that: "+err.Error())
	case !did:
		l.repeats.Add(1)
		c.log(l.o.Logger.Debug()).Msg("slack click: done already")
	default:
		l.done.Add(1)
		c.log(l.o.Logger.Info()).Msg("slack click done")
		if l.o.Redraw == nil && c.action != slackmsg.ActionShowLog {
			// The card shows it at its next event; say it now.
			l.tell(ctx, c, confirmations[c.action])
		}
	}
}

// confirmations tell the clicker an action was done, while no Redrawer
// shows it on the card at once.
var confirmations = map[string]string{
	slackmsg.ActionAcknowledge: "You acknowledged this incident: its reminders stop.",
	slackmsg.ActionSilence:     "You silenced this task for " + slackmsg.Humanize(slackmsg.SilenceFor) + ".",
}

func (l *Listener) acknowledge(ctx context.Context, c click) (bool, error) {
	rec := Record{Incident: c.v.Incident, By: c.user, At: l.o.Now().UTC()}
	rev, _, err := l.store.claim(ctx, Key(kindAck, c.v.Project, c.v.TaskID), rec, 0)
	if err != nil || rev == 0 {
		return false, err
	}
	l.redraw(ctx, c)
	return true, nil
}

func (l *Listener) silence(ctx context.Context, c click) (bool, error) {
	if l.o.Silencer == nil {
		return false, fmt.Errorf("silences are not available on this watcher")
	}
	now := l.o.Now().UTC()
	rec := Record{Incident: c.v.Incident, By: c.user, At: now, Until: now.Add(slackmsg.SilenceFor)}
	key := Key(kindSilence, c.v.Project, c.v.TaskID)
	rev, _, err := l.store.claim(ctx, key, rec, slackmsg.SilenceFor)
	if err != nil || rev == 0 {
		return false, err
	}
	comment := "from Slack: the card of task " + c.v.TaskID + " (" + c.v.Incident + ")"
	id, err := l.o.Silencer.Add(ctx, notify.Match{Project: c.v.Project, TaskID: c.v.TaskID}, slackmsg.SilenceFor, comment, c.user)
	if err != nil {
		l.unclaim(ctx, key, rev)
		return false, fmt.Errorf("add the silence: %w", err)
	}
	rec.SilenceID = id
	if err := l.store.replace(ctx, key, rec, rev); err != nil {
		// The silence holds; only the card will not name it.
		c.log(l.o.Logger.Warn().Err(err)).Str("silence", id).Msg("slack click: silence added, its record not completed")
	}
	l.redraw(ctx, c)
	return true, nil
}

func (l *Listener) showLog(ctx context.Context, c click) (bool, error) {
	if l.o.LogTail == nil {
		return false, fmt.Errorf("the task's log is not available on this watcher")
	}
	key := Key(kindLog, c.v.Project, c.v.TaskID)
	rev, _, err := l.store.claim(ctx, key, Record{Incident: c.v.Incident, By: c.user, At: l.o.Now().UTC()}, logAgain)
	if err != nil || rev == 0 {
		return false, err
	}
	entries, err := l.o.LogTail(ctx, c.v.Project, c.v.TaskID)
	if err != nil {
		l.unclaim(ctx, key, rev)
		return false, fmt.Errorf("read the log: %w", err)
	}
	msg := slackmsg.RenderLogReply(c.v.TaskID, c.user, entries)
	opts := []slack.MsgOption{slack.MsgOptionText(msg.Text, false), slack.MsgOptionTS(c.thread)}
	if msg.Blocks != nil {
		opts = append(opts, slack.MsgOptionBlocks(msg.Blocks.BlockSet...))
	}
	if _, _, err := l.api.PostMessageContext(ctx, c.channel, opts...); err != nil {
		l.unclaim(ctx, key, rev)
		return false, fmt.Errorf("post the log in the thread: %w", err)
	}
	return true, nil
}

// unclaim releases a claim whose action failed, so that a new click tries
// again.
func (l *Listener) unclaim(ctx context.Context, key string, rev uint64) {
	if err := l.store.release(context.WithoutCancel(ctx), key, rev); err != nil {
		l.o.Logger.Warn().Err(err).Msg("slack click: claim not released; the next click within its window is taken for a repeat")
	}
}

func (l *Listener) redraw(ctx context.Context, c click) {
	if l.o.Redraw == nil {
		return
	}
	if err := l.o.Redraw.Redraw(ctx, c.ref()); err != nil {
		c.log(l.o.Logger.Warn().Err(err)).Msg("slack click: card not redrawn; its next event will")
	}
}

// tell answers the clicker alone (chat.postEphemeral) in the card's
// channel and thread.
func (l *Listener) tell(ctx context.Context, c click, text string) {
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	if c.thread != c.ts {
		opts = append(opts, slack.MsgOptionTS(c.thread))
	}
	if _, err := l.api.PostEphemeralContext(ctx, c.channel, c.user, opts...); err != nil {
		c.log(l.o.Logger.Warn().Err(err)).Msg("slack click: the answer to the user was not posted")
	}
}
