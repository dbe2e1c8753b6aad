package slackact

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/secret"
)

// Silencer silences the events of a match for a while (the silence
// store); by is the Slack user id who asked. It returns the silence's id.
type Silencer interface {
	Add(ctx context.Context, m notify.Match, d time.Duration, comment, by string) (id string, err error)
}

// LogTail reads the newest lines of a task's log, newest first.
type LogTail func(ctx context.Context, projectID, taskID string) ([]dcs.LogEntry, error)

// CardRef is a card a click was on: where it is and which task and
// incident it showed.
type CardRef struct {
	Channel, TS      string
	Project, TaskID  string
	Region, Incident string
}

// Redrawer redraws a card after a click changed what it shows (the Slack
// delivery, which owns the card: it reads Store.Attention and renders
// slackmsg.RenderCardWith).
type Redrawer interface {
	Redraw(ctx context.Context, c CardRef) error
}

// Options configure a Listener.
type Options struct {
	// AppToken is the app-level token (xapp-…) that opens the socket;
	// BotToken (xoxb-…) posts replies and ephemerals and reads user
	// groups. APIURL is Slack's Web API base; HTTPClient its transport.
	AppToken   secret.Secret
	BotToken   secret.Secret
	APIURL     string
	HTTPClient *http.Client
	// Bucket holds the actions' records (see Store).
	Bucket jetstream.KeyValue
	// Actors are user group ids (S…) whose members may act; empty:
	// anyone in the channel.
	Actors   []string
	Silencer Silencer // nil: Silence answers that silences are off
	LogTail  LogTail  // nil: Show log answers that the log is off
	Redraw   Redrawer // nil: cards are redrawn at their next event
	// Console makes the link button's URL (slack.console_url); nil: no
	// link.
	Console *slackmsg.ConsoleURL
	Logger  zerolog.Logger
	Now     func() time.Time
	// MinBackoff and MaxBackoff bound the wait before opening the socket
	// again after slack-go gave it up (a revoked token, say); slack-go
	// retries a dropped connection by itself.
	MinBackoff, MaxBackoff time.Duration
}

// Defaults of Options.
const (
	defaultMinBackoff = time.Second
	defaultMaxBackoff = 5 * time.Minute
	// actionTimeout bounds the work of one click, after its ack.
	actionTimeout = 30 * time.Second
	// ackWait bounds the wait for room in the socket's send queue.
	ackWait = 2 * time.Second
	// workers bounds the clicks worked on at once.
	workers = 16
)

// Stats are a Listener's counts since it started.
type Stats struct {
	Connected bool  // the socket is up (readiness)
	Connects  int64 // hellos received
	Envelopes int64 // envelopes acked
	Done      int64 // actions done
	Repeats   int64 // clicks that found their action done already
	Refused   int64 // clicks of users not allowed
	Failed    int64 // actions that failed (the user is told)
}

// Listener receives the cards' clicks over Socket Mode and acts on them.
type Listener struct {
	o      Options
	api    *slack.Client
	store  Store
	actors *actors
	sem    chan struct{}
	wg     sync.WaitGroup

	connected                                           atomic.Bool
	connects, envelopes, done, repeats, refused, failed atomic.Int64
}

// New returns a Listener; Run connects it.
func New(o Options) *Listener {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = defaultMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(defaultMaxBackoff, o.MinBackoff)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	opts := []slack.Option{slack.OptionHTTPClient(o.HTTPClient), slack.OptionAppLevelToken(o.AppToken.Reveal())}
	if o.APIURL != "" {
		if !strings.HasSuffix(o.APIURL, "/") {
			o.APIURL += "/"
		}
		opts = append(opts, slack.OptionAPIURL(o.APIURL))
	}
	api := slack.New(o.BotToken.Reveal(), opts...)
	read := func(ctx context.Context, group string) ([]string, error) {
		return api.GetUserGroupMembersContext(ctx, group)
	}
	return &Listener{o: o, api: api, store: Store{KV: o.Bucket}, sem: make(chan struct{}, workers),
		actors: &actors{groups: o.Actors, read: read, now: o.Now}}
}

// Connected says whether the socket is up: a readiness fact.
func (l *Listener) Connected() bool { return l.connected.Load() }

// Stats are the counts since New.
func (l *Listener) Stats() Stats {
	return Stats{Connected: l.connected.Load(), Connects: l.connects.Load(), Envelopes: l.envelopes.Load(),
		Done: l.done.Load(), Repeats: l.repeats.Load(), Refused: l.refused.Load(), Failed: l.failed.Load()}
}

// Run keeps the socket open until ctx ends, opening it again with
// backoff whenever slack-go gives it up, and returns once the clicks in
// hand are done.
func (l *Listener) Run(ctx context.Context) error {
	defer l.wg.Wait()
	wait := l.o.MinBackoff
	for {
		up, err := l.session(ctx)
		l.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if up {
			wait = l.o.MinBackoff
		}
		l.o.Logger.Warn().Err(err).Dur("retry_in", wait).Msg("slack socket closed; opening it again")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, l.o.MaxBackoff)
	}
}

// session runs one socketmode client until it returns (ctx done, or a
// connection it will not retry); up says whether it ever connected.
func (l *Listener) session(ctx context.Context) (up bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := socketmode.New(l.api, socketmode.OptionLog(log.New(io.Discard, "", 0)))
	ended := make(chan error, 1)
	go func() { ended <- client.RunContext(sctx) }()
	for {
		select {
		case err := <-ended:
			return up, err
		case evt := <-client.Events:
			if l.event(ctx, client, evt) {
				up = true
			}
		}
	}
}

// event handles one event of the client; it says whether the socket
// came up. Every envelope is acked first, whatever follows.
func (l *Listener) event(ctx context.Context, client *socketmode.Client, evt socketmode.Event) bool {
	if evt.Request != nil && evt.Request.EnvelopeID != "" {
		l.ack(ctx, client, evt.Request.EnvelopeID)
	}
	switch evt.Type {
	case socketmode.EventTypeHello:
		l.connected.Store(true)
		if l.connects.Add(1) == 1 {
			l.o.Logger.Info().Msg("slack socket connected: the cards' buttons answer")
		} else {
			l.o.Logger.Info().Msg("slack socket connected again")
		}
		return true
	case socketmode.EventTypeConnectionError, socketmode.EventTypeDisconnect, socketmode.EventTypeConnecting:
		l.connected.Store(false)
		if e, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
			l.o.Logger.Warn().Err(e.ErrorObj).Dur("retry_in", e.Backoff).Msg("slack socket: cannot connect")
		}
	case socketmode.EventTypeErrorBadMessage:
		// Slack resends an envelope nobody acked: ack even one that
		// slack-go could not read.
		if e, ok := evt.Data.(*socketmode.ErrorBadMessage); ok {
			var env struct {
				EnvelopeID string `json:"envelope_id"`
			}
			if json.Unmarshal(e.Message, &env) == nil && env.EnvelopeID != "" {
				l.ack(ctx, client, env.EnvelopeID)
			}
			l.o.Logger.Warn().Err(e.Cause).Msg("slack socket: an envelope could not be read; acked and dropped")
		}
	case socketmode.EventTypeInteractive:
		if cb, ok := evt.Data.(slack.InteractionCallback); ok {
			l.dispatch(ctx, cb)
		}
	}
	return false
}

// ack queues the ack of envelope id on the socket; a socket gone for
// longer than ackWait leaves it unsent, and Slack sends the envelope again.
func (l *Listener) ack(ctx context.Context, client *socketmode.Client, id string) {
	actx, cancel := context.WithTimeout(ctx, ackWait)
	defer cancel()
	if err := client.AckCtx(actx, id, nil); err != nil {
		l.o.Logger.Warn().Err(err).Str("envelope", id).Msg("slack socket: ack not sent")
		return
	}
	l.envelopes.Add(1)
}

// dispatch works on a click apart from the event loop, which goes on
// acking.
func (l *Listener) dispatch(ctx context.Context, cb slack.InteractionCallback) {
	l.wg.Go(func() {
		select {
		case l.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-l.sem }()
		actx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		l.handle(actx, cb)
	})
}
