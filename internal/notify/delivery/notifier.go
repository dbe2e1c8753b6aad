package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/lease"
	"github.com/dcs-watcher/watcher/internal/notify/slackact"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/msgtmpl"
	"github.com/dcs-watcher/watcher/internal/retry"
)

// Notifier is the Slack delivery consumer. It runs one lane per
// destination (the default one and each route's): a durable consumer of
// its own, its own pacing (Slack's limit is per webhook or channel), its
// own delivery marks and its own dead-destination episode, so a slow or
// dead destination holds back only its own events. Several Notifiers (one
// per replica) may share the lanes' durable consumers.
type Notifier struct {
	lanes []*lane
	*counters
}

// New returns a Notifier that reads envelopes through js and posts them:
// to s, the default destination, and to the Senders of o.Routes. s may be
// nil when routes are given. It refuses options that are missing or out of
// bounds.
func New(js jetstream.JetStream, s Sender, o Options) (*Notifier, error) {
	err := o.check()
	if s == nil && o.Channel == "" && len(o.Routes) == 0 {
		err = errors.Join(err, errors.New("no destination: neither a sender, a channel nor routes"))
	}
	if s != nil && o.Channel != "" {
		err = errors.Join(err, fmt.Errorf("both a default sender and a default channel %q", o.Channel))
	}
	if (s != nil || o.Channel != "") && o.DefaultRoute != "" {
		err = errors.Join(err, fmt.Errorf("both a default destination and a default route %q", o.DefaultRoute))
	}
	if err != nil {
		return nil, fmt.Errorf("slack notifier: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	kinds := make(map[diff.Kind]bool, len(o.Kinds))
	for _, k := range o.Kinds {
		kinds[k] = true
	}
	n := &Notifier{counters: &counters{}}
	holder := lease.NewIdentity()
	r := &router{routes: o.Routes, fallback: o.DefaultRoute, hasFallback: s != nil || o.Channel != "" || o.DefaultRoute != ""}
	// Templates are loaded here as well as by config validation: New is
	// also given Options by tests and tools that bypass the config.
	sets := map[string]*msgtmpl.Set{}
	load := func(path string) (*msgtmpl.Set, error) {
		if path == "" {
			return msgtmpl.Default(), nil
		}
		if s, ok := sets[path]; ok {
			return s, nil
		}
		s, err := msgtmpl.Load(path)
		sets[path] = s
		return s, err
	}
	var tmplErr error
	add := func(name string, snd Sender, channel string, mentions []string, tmpl string) {
		consumer := o.Consumer
		if name != "" {
			consumer += "_" + name
		}
		lo := o
		if name != "" {
			lo.Logger = o.Logger.With().Str("route", name).Logger()
		}
		set, err := load(tmpl)
		if err != nil {
			what := "template"
			if name != "" {
				what = fmt.Sprintf("route %q: template", name)
			}
			tmplErr = errors.Join(tmplErr, fmt.Errorf("%s: %w", what, err))
		}
		epKey := episodeKey
		if name != "" {
			epKey += "." + name
		}
		n.lanes = append(n.lanes, &lane{
			js: js, dest: newDestination(js, lo, name, snd, channel, mentions, set), o: lo, name: name, consumer: consumer,
			kinds: kinds, router: r, pace: newPacer(o.Rate), ackWait: ackWait, counters: n.counters,
			holder: holder, leaseTTL: leaseTTL,
			outage: &outage{
				key: epKey, consumer: consumer, health: o.Health, project: o.Project,
				deadRetry: o.DeadRetry, now: o.Now, log: lo.Logger,
			},
		})
	}
	if s != nil || o.Channel != "" {
		add("", s, o.Channel, nil, o.Template)
	}
	for _, rt := range o.Routes {
		add(rt.Name, rt.Sender, rt.Channel, rt.Mentions, rt.Template)
	}
	if tmplErr != nil {
		return nil, fmt.Errorf("slack notifier: %w", tmplErr)
	}
	return n, nil
}

// newDestination builds the destination of the lane name, with its
// options o: the one place that asks which mode, a channel through the
// bot or a webhook through snd.
func newDestination(js jetstream.JetStream, o Options, name string, snd Sender, channel string, mentions []string, set *msgtmpl.Set) destination {
	g := grouping{render: slackmsg.NewRenderer(set, mentions, o.Logger), min: o.GroupMin, off: o.NoGrouping}
	if channel != "" {
		return newChannelDest(js, channel, name, mentions, g, o)
	}
	return &webhookDest{sender: snd, group: g}
}

// Stats returns the counters so far, summed over the destinations.
func (n *Notifier) Stats() Stats {
	return Stats{
		Sent: n.sent.Load(), Events: n.events.Load(), Skipped: n.skipped.Load(), Silenced: n.silencedN.Load(),
		Retried: n.retried.Load(), Throttled: n.throttled.Load(), Failed: n.failed.Load(),
		Dead: n.dead.Load(), Quiet: n.quieted.Load(), Reminded: n.reminded.Load(),
	}
}

// Pending is the number of messages the consumers have not finished with,
// summed over the destinations: not yet delivered plus delivered and not
// yet acked (a message waiting out a retry delay, or a watch_degraded held
// by slack.degraded_for, counts). Zero means Slack has caught up. Before
// Run has created the consumers the error wraps
// jetstream.ErrConsumerNotFound.
func (n *Notifier) Pending(ctx context.Context) (uint64, error) {
	var sum uint64
	for _, l := range n.lanes {
		p, err := l.pending(ctx)
		if err != nil {
			return 0, err
		}
		sum += p
	}
	return sum, nil
}

func (n *lane) pending(ctx context.Context) (uint64, error) {
	cons, err := n.js.Consumer(ctx, n.o.Stream, n.consumer)
	if err != nil {
		return 0, fmt.Errorf("slack notifier: pending: consumer %s on stream %s: %w", n.consumer, n.o.Stream, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("slack notifier: pending: consumer info %s: %w", n.consumer, err)
	}
	p := info.NumPending + uint64(info.NumAckPending)
	if p > 0 {
		return p, nil
	}
	// Just after the consumer is created the server may report nothing
	// pending before it has counted; whether the last matching message has
	// been acked settles it (the ack floor is the last sequence below which
	// everything is acked, however many are in flight).
	last, err := n.lastSeq(ctx)
	if err != nil {
		return 0, err
	}
	if info.AckFloor.Stream < last {
		return 1, nil
	}
	return 0, nil
}

// Run creates (or updates) each destination's durable consumer and the
// marks bucket, then delivers events until ctx ends, when it returns nil.
// Of the replicas sharing a destination, one at a time delivers: the
// holder of its delivery lease (turn.go); the others wait to take over.
// Each destination works on one batch at a time (see
// docs/slack-delivery.md) and fetches the next only when the batch is
// done, so it sees events in stream order and an event waiting out a
// retry, or a dead destination, holds back the ones behind it, for that
// destination only.
//
// A lost connection, a NATS restart or a missed heartbeat does not end Run:
// it logs, waits (1 s doubling to 30 s) and sets the consumer up again, so
// Slack delivery resumes by itself when NATS is back.
func (n *Notifier) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, l := range n.lanes {
		wg.Go(func() { l.run(ctx) })
	}
	wg.Wait()
	return nil
}

func (n *lane) run(ctx context.Context) {
	wait := time.Second
	for ctx.Err() == nil {
		marks, err := n.buckets(ctx)
		if err == nil {
			err = n.whileHeld(ctx, marks, func(ctx context.Context) {
				var reminders sync.WaitGroup
				if n.o.RemindEvery > 0 {
					reminders.Go(func() { n.remindWhileHeld(ctx, marks) })
				}
				wait = n.deliverWhileHeld(ctx, marks, wait)
				reminders.Wait()
			})
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		n.o.Logger.Warn().Err(err).Dur("retry_in", wait).Msg("slack notifier: cannot set up its KV buckets; trying again")
		if retry.SleepUntil(ctx, time.Now().Add(wait)) != nil {
			return
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// deliverWhileHeld runs consumer sessions until ctx ends (Run's, or the
// lease lost), setting the consumer up again after a failure; it returns
// the backoff to go on with.
func (n *lane) deliverWhileHeld(ctx context.Context, marks jetstream.KeyValue, wait time.Duration) time.Duration {
	for {
		delivered, err := n.consume(ctx, marks)
		if ctx.Err() != nil {
			return wait
		}
		if delivered {
			wait = time.Second
		}
		n.o.Logger.Warn().Err(err).Dur("retry_in", wait).Msg("slack notifier: consumer interrupted; setting it up again")
		if retry.SleepUntil(ctx, time.Now().Add(wait)) != nil {
			return wait
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// Redraw redraws the card ref after a click changed what it shows
// (slackact.Redrawer): the card of its task in each channel whose record
// has that ts. It reads the records from the cards bucket itself, so any
// replica may redraw, whichever holds the delivery lease. A card found
// nowhere is not an error: it was replaced by a newer one, which shows
// the click when next drawn.
func (n *Notifier) Redraw(ctx context.Context, ref slackact.CardRef) error {
	var errs []error
	for _, l := range n.lanes {
		c, ok := l.dest.(*channelDest)
		if !ok {
			continue
		}
		if err := c.redraw(ctx, ref); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("slack notifier: redraw card of task %s: %w", ref.TaskID, err)
	}
	return nil
}
