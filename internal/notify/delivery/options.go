package delivery

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
)

// Options configure a Notifier. They have no defaults here: the config
// package owns every default, and New refuses what is missing.
type Options struct {
	Stream        string // JetStream stream of the envelopes
	Consumer      string // durable consumer name, shared by all replicas
	FilterSubject string // e.g. "dcs.migration.>"; empty: every subject of the stream
	Kinds         []diff.Kind
	MarksBucket   string // KV bucket of delivery marks
	// Bot is the Web API connection of the bot-token mode; Channel the
	// default destination in that mode (instead of the Sender given to
	// New), and a Route with a Channel posts there through Bot. Each task
	// gets a live status card per channel, whose records live in
	// CardsBucket (see docs/slack-delivery.md, "Bot mode").
	Bot         *slackwire.Bot
	Channel     string
	CardsBucket string
	// Buttons, in bot mode, draws the cards with their buttons and what
	// was clicked (*slackact.Listener, with slack.app_token); nil: cards
	// without buttons.
	Buttons Buttons
	// MinRetryDelay is the first retry delay after a failed send; it
	// doubles with each delivery up to MaxRetryDelay.
	MinRetryDelay time.Duration
	MaxRetryDelay time.Duration
	// Rate is the most messages sent per second.
	Rate float64
	// GroupMin is the smallest group of like events posted as one grouped
	// message (see docs/slack-delivery.md), at least 2.
	// NoGrouping posts every event as a message of its own.
	GroupMin   int
	NoGrouping bool
	// GroupMax is how many waiting events are pulled at once, so the
	// largest group, and the consumer's MaxAckPending: the events one
	// replica holds unacked (the config bounds it).
	GroupMax int
	// SendTimeout bounds one post (slack.timeout); a post that times out is
	// tried again like any failed send.
	SendTimeout time.Duration
	// Solo says no other replica can share the stream (the embedded NATS):
	// the delivery lease is seized at once (a record there was left by
	// this process's crashed run), and only that run's unacked batch is
	// waited for, so that it posts before the events behind it (turn.go).
	Solo bool
	// DeadRetry is how often the oldest held message probes a destination
	// found dead (revoked webhook, archived channel: slackwire.ErrDeadDestination).
	DeadRetry time.Duration
	// Health publishes the notifier's own watch_degraded / watch_recovered
	// events (scope slack) when the destination dies and works again; nil:
	// they are only logged.
	Health Publisher
	// Routes send each event to the destinations whose match it meets, in
	// order: the first that matches takes it unless it says Continue. An
	// event no route takes goes to the default destination: the route
	// named DefaultRoute, else the Sender given to New; with neither it is
	// not posted. No routes: every event goes to the Sender (one
	// destination, the behaviour before routing).
	Routes       []Route
	DefaultRoute string
	// Template is the template file of the default destination's messages
	// (slack.template; see package msgtmpl); "" for the defaults. A
	// route's own is Route.Template.
	Template string
	// QuietStart: a discovered event posts only when the task is already
	// failed at first sight (whatever Kinds says); off, discovered posts
	// when it is in Kinds, like any kind.
	QuietStart bool
	// DegradedFor holds a watch_degraded back from Slack until the
	// blindness has lasted that long; its watch_recovered posts only if it
	// was posted (see docs/slack-delivery.md, "No noise"). 0: both always
	// post.
	DegradedFor time.Duration
	// RemindEvery reminds each open incident (a task's failure) this
	// often until it closes (see reminder.go); 0 never. Acks (nil: none)
	// stop an acknowledged incident's reminders, Silences (nil: nothing
	// silenced) hold a silenced one's.
	RemindEvery time.Duration
	Acks        Acks
	Silences    Silences
	// Project is the project those events name; empty: "_watcher".
	Project string
	// CatchUp hears of every event taken from the stream and says whether
	// a silence holds it (data.silenced), so that it is acked unposted; it
	// remembers what each silence hid, for the catch-up at its end
	// (silence.Tracker). nil: an event marked silenced is still not
	// posted, and nothing is remembered.
	CatchUp CatchUp
	Logger  zerolog.Logger // zero value: no logs
	Now     func() time.Time
}

// CatchUp is what the notifier needs of the silences' catch-up: Observe
// records an event and says whether to hide it; an error leaves the event
// to be redelivered.
type CatchUp interface {
	Observe(ctx context.Context, env notify.Envelope) (hide bool, err error)
}

// Stats count what the Notifier did with the events it received. Sent
// counts messages, the other fields events: with grouping, Events is
// larger than Sent.
type Stats struct {
	Sent      uint64 // messages accepted by Slack
	Events    uint64 // events those messages carried, each marked delivered and acked
	Skipped   uint64 // kind not posted, or already delivered (mark found)
	Silenced  uint64 // held by a silence or a maintenance window (data.silenced)
	Retried   uint64 // failed attempts (send or mark read) that were tried again; 429s included
	Throttled uint64 // 429 answers from Slack
	Failed    uint64 // malformed or refused by Slack for good: terminated
	// Dead counts episodes of a dead destination (revoked webhook,
	// archived channel, ...): each began with one error log line and one
	// watch_degraded event, while the events waited.
	Dead uint64
	// Quiet counts events the no-noise rule kept from Slack: a
	// watch_degraded whose blindness ended within DegradedFor, and its
	// watch_recovered (acked, not posted).
	Quiet uint64
	// Reminded counts reminders Slack took.
	Reminded uint64
}

func (o Options) check() error {
	var errs []error
	for name, v := range map[string]string{"stream": o.Stream, "consumer": o.Consumer, "marks bucket": o.MarksBucket} {
		if v == "" {
			errs = append(errs, fmt.Errorf("no %s", name))
		}
	}
	errs = append(errs, o.checkRoutes()...)
	if len(o.Kinds) == 0 {
		errs = append(errs, errors.New("no event kinds to post"))
	}
	if o.MinRetryDelay <= 0 || o.MaxRetryDelay < o.MinRetryDelay {
		errs = append(errs, fmt.Errorf("retry delays %s..%s: want 0 < min <= max", o.MinRetryDelay, o.MaxRetryDelay))
	}
	if !(o.Rate > 0) || math.IsInf(o.Rate, 0) {
		errs = append(errs, fmt.Errorf("rate %v: want a positive number of messages per second", o.Rate))
	}
	if !o.NoGrouping && o.GroupMin < 2 {
		errs = append(errs, fmt.Errorf("group min %d: a group has at least 2 events", o.GroupMin))
	}
	if o.GroupMax < 1 {
		errs = append(errs, fmt.Errorf("group max %d: want at least 1", o.GroupMax))
	}
	if o.SendTimeout <= 0 {
		errs = append(errs, fmt.Errorf("send timeout %s: want a positive duration", o.SendTimeout))
	}
	if o.RemindEvery < 0 {
		errs = append(errs, fmt.Errorf("remind every %s: want 0 (never) or a positive duration", o.RemindEvery))
	}
	if o.DeadRetry <= 0 {
		errs = append(errs, fmt.Errorf("dead retry %s: want a positive duration", o.DeadRetry))
	}
	return errors.Join(errs...)
}

// checkRoutes refuses routes that cannot work: no name, a name used twice
// or not fit for a consumer name, no sender, a bad mention, a default
// route that is not one of them.
func (o Options) checkRoutes() []error {
	var errs []error
	seen := map[string]bool{}
	botUsed := o.Channel != ""
	for i, rt := range o.Routes {
		switch {
		case !nameOK(rt.Name):
			errs = append(errs, fmt.Errorf("route %d: name %q: letters, digits, - and _ only", i, rt.Name))
		case seen[rt.Name]:
			errs = append(errs, fmt.Errorf("route %d: name %q used twice", i, rt.Name))
		}
		seen[rt.Name] = true
		switch {
		case rt.Sender == nil && rt.Channel == "":
			errs = append(errs, fmt.Errorf("route %q: no sender and no channel", rt.Name))
		case rt.Sender != nil && rt.Channel != "":
			errs = append(errs, fmt.Errorf("route %q: both a sender and a channel", rt.Name))
		}
		botUsed = botUsed || rt.Channel != ""
		for _, m := range rt.Mentions {
			if !slackmsg.ValidMention(m) {
				errs = append(errs, fmt.Errorf("route %q: mention %q: want U…, W…, S…, @here or @channel", rt.Name, m))
			}
		}
	}
	if botUsed && o.Bot == nil {
		errs = append(errs, errors.New("a channel is given but no bot (bot-token mode)"))
	}
	if botUsed && o.CardsBucket == "" {
		errs = append(errs, errors.New("no cards bucket for the bot-token mode"))
	}
	if o.DefaultRoute != "" && !seen[o.DefaultRoute] {
		errs = append(errs, fmt.Errorf("default route %q is not a route", o.DefaultRoute))
	}
	if o.DegradedFor < 0 {
		errs = append(errs, errors.New("degraded for: negative"))
	}
	return errs
}

// Buttons says what a card shows of its buttons and their clicks
// (*slackact.Listener): the card is drawn with slackmsg.RenderCardWith.
type Buttons interface {
	CardAttention(ctx context.Context, r *slackmsg.Card) (slackmsg.Attention, error)
}
