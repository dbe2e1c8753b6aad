// Package app wires the watcher together from a validated config: the NATS
// broker (embedded or external), the events stream, the snapshot store, the
// poller and the Slack notifier. Every command that watches (run, once, demo,
// bench) and the end-to-end tests start the watcher through Start, so they
// all run the same wiring.
package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/dcs-watcher/watcher/internal/broker"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	slacknotify "github.com/dcs-watcher/watcher/internal/notify/slack"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/state"
)

// App is the watcher wired together. Stop it with Stop.
type App struct {
	Broker *broker.Broker
	Snaps  *state.Snapshots
	Poller *poller.Poller
	Slack  *slacknotify.Notifier // nil when Slack is off
	Config config.Config
}

// Options are what a command changes of the wiring beyond the config.
type Options struct {
	Logger zerolog.Logger
	// NoSlack leaves the Slack notifier out even when the config enables it
	// (once: a durable consumer delivers to Slack, once only publishes).
	NoSlack bool
	// SlackSender replaces the webhook (the demo's console sink).
	SlackSender slacknotify.Sender
	// Published hears of each event once JetStream has stored it.
	Published func(notify.Envelope)
	// Cycled hears of each cycle the poller's Run makes (the bench times them).
	Cycled func(poller.Stats, error)
	Now    func() time.Time
	// Getenv reads the SDK's region endpoint override
	// (HUAWEICLOUD_SDK_REGION_DCS_<REGION>); nil reads nothing.
	Getenv func(string) string
}

// Start wires the watcher from a validated config. Nothing polls until Run.
func Start(ctx context.Context, cfg config.Config, o Options) (*App, error) {
	client, err := dcsClient(cfg, o)
	if err != nil {
		return nil, err
	}
	b, err := broker.Start(ctx, broker.Options{
		URL: cfg.NATS.URL, CredsFile: cfg.NATS.CredsFile, Token: cfg.NATS.Token,
		Listen: cfg.NATS.Listen, DataDir: cfg.DataDir, Logger: o.Logger,
		SubjectPrefix: cfg.NATS.SubjectPrefix, Stream: cfg.NATS.Stream, Consumers: []string{cfg.Slack.Consumer},
	})
	if err != nil {
		return nil, err
	}
	a := &App{Broker: b, Config: cfg}
	if err := a.wire(ctx, client, o); err != nil {
		a.Stop()
		return nil, err
	}
	return a, nil
}

func dcsClient(cfg config.Config, o Options) (*dcs.Client, error) {
	endpoint := cfg.DCS.Endpoint
	if endpoint == "" {
		getenv := o.Getenv
		if getenv == nil {
			getenv = func(string) string { return "" }
		}
		endpoint = dcs.EndpointForRegion(cfg.DCS.Region, getenv)
	}
	client, err := dcs.New(dcs.Options{
		Endpoint:  endpoint,
		ProjectID: cfg.DCS.ProjectID,
		Credentials: dcs.Credentials{
			AK: cfg.DCS.AK, SK: cfg.DCS.SK,
			SecurityToken: cfg.DCS.SecurityToken, AuthToken: cfg.DCS.AuthToken,
		},
		// Idle connections for every detail call in flight and a list page.
		HTTPClient:   &http.Client{Timeout: cfg.DCS.Timeout, Transport: dcs.Transport(cfg.DCS.Concurrency + 1)},
		MaxBodyBytes: cfg.DCS.MaxBodyBytes,
		UserAgent:    "dcs-watcher",
		Now:          o.Now,
		Limiter:      limiter(cfg.DCS.RateLimit),
		// The list's pages, once the first has told how many, at the pace
		// of the detail calls.
		ListConcurrency: cfg.DCS.Concurrency,
	})
	if err != nil {
		return nil, fmt.Errorf("dcs client: %w", err)
	}
	return client, nil
}

func (a *App) wire(ctx context.Context, client *dcs.Client, o Options) error {
	cfg, log := a.Config, o.Logger
	streamOpts := notify.StreamOptions{
		Name: cfg.NATS.Stream, Prefix: cfg.NATS.SubjectPrefix,
		Duplicates: cfg.NATS.DuplicateWindow, MaxAge: cfg.NATS.MaxAge, Replicas: cfg.NATS.Replicas,
	}
	if _, err := notify.EnsureStream(ctx, a.Broker.JS, streamOpts); err != nil {
		return err
	}
	lost := &storeLost{log: log, project: cfg.DCS.ProjectID, now: o.Now, published: o.Published}
	pub := notify.NewPublisher(a.Broker.JS, notify.PublisherOptions{
		Stream: cfg.NATS.Stream, Prefix: cfg.NATS.SubjectPrefix,
		Region:   cfg.DCS.Region,
		Recreate: streamOpts, OnRecreate: lost.report,
	})
	lost.pub = pub
	snaps, err := state.Open(ctx, a.Broker.JS, state.BucketOptions{
		Bucket: cfg.NATS.KVBucket, Replicas: cfg.NATS.Replicas,
		OnCorrupt: func(key string, err error) {
			log.Error().Err(err).Str("key", key).Msg("corrupt snapshot skipped: the task will be seen as new")
		},
		OnRecreate: lost.report,
	})
	if err != nil {
		return err
	}
	a.Snaps = snaps
	a.Poller = poller.New(client, pub, snaps, poller.Options{
		ProjectID:       cfg.DCS.ProjectID,
		TaskIDs:         cfg.Poll.TaskIDs,
		Discover:        cfg.Poll.Discover,
		NameFilter:      cfg.Poll.NameFilter,
		EveryCycle:      cfg.Poll.Detail == config.DetailEveryCycle,
		Auto:            cfg.Poll.Detail == config.DetailAuto,
		RateLimit:       cfg.DCS.RateLimit,
		RefreshActive:   cfg.Poll.RefreshActive,
		RefreshTerminal: cfg.Poll.RefreshTerminal,
		AbsentChecks:    cfg.Poll.AbsentChecks,
		Concurrency:     cfg.DCS.Concurrency,
		Now:             o.Now,
		Logger:          log.With().Str("component", "poller").Logger(),
		Published:       o.Published,
		Cycled:          o.Cycled,
	})
	if o.NoSlack || (!cfg.Slack.Enabled && o.SlackSender == nil) {
		return nil
	}
	routes, sender, channel := slackDestinations(cfg, o.SlackSender)
	var bot *slacknotify.Bot
	if cfg.Slack.BotToken != "" && o.SlackSender == nil {
		bot = slacknotify.NewBot(cfg.Slack.BotToken, cfg.Slack.APIURL, &http.Client{Timeout: cfg.Slack.Timeout})
	}
	kinds := make([]diff.Kind, len(cfg.Slack.Kinds))
	for i, k := range cfg.Slack.Kinds {
		kinds[i] = diff.Kind(k)
	}
	a.Slack, err = slacknotify.New(a.Broker.JS, sender, slacknotify.Options{
		Stream:        cfg.NATS.Stream,
		Consumer:      cfg.Slack.Consumer,
		FilterSubject: cfg.NATS.SubjectPrefix + ".>",
		Kinds:         kinds,
		MarksBucket:   cfg.Slack.MarksBucket,
		Bot:           bot,
		Channel:       channel,
		CardsBucket:   cfg.Slack.CardsBucket,
		MinRetryDelay: cfg.Slack.MinRetryDelay,
		MaxRetryDelay: cfg.Slack.MaxRetryDelay,
		Rate:          cfg.Slack.Rate,
		GroupMin:      cfg.Slack.GroupMin,
		NoGrouping:    cfg.Slack.GroupMin == 0,
		GroupMax:      cfg.Slack.GroupMax,
		// The webhook's client and the notifier bound a post alike; the
		// notifier's bound also covers any other Sender.
		SendTimeout: cfg.Slack.Timeout,
		DeadRetry:   cfg.Slack.DeadRetry,
		// A dead webhook is announced on the stream, beside the events
		// that wait for it.
		Health:       pub,
		Project:      cfg.DCS.ProjectID,
		Routes:       routes,
		DefaultRoute: cfg.Slack.DefaultRoute,
		Template:     cfg.Slack.Template,
		QuietStart:   cfg.Slack.QuietStart,
		DegradedFor:  cfg.Slack.DegradedFor,
		Logger:       log.With().Str("component", "slack").Logger(),
		Now:          o.Now,
	})
	return err
}

// slackDestinations are the routes of slack.routes and the default
// destination: a sender (slack.webhook_url) or, in bot mode, a channel
// (slack.channel); neither when there is none. A route gives a webhook or
// a channel. A replacement sender (the demo's console) stands for every
// destination, channels included.
func slackDestinations(cfg config.Config, replace slacknotify.Sender) ([]slacknotify.Route, slacknotify.Sender, string) {
	webhook := func(url secret.Secret) slacknotify.Sender {
		if replace != nil {
			return replace
		}
		return slacknotify.WebhookSender{URL: url, HTTPClient: &http.Client{Timeout: cfg.Slack.Timeout}}
	}
	routes := make([]slacknotify.Route, len(cfg.Slack.Routes))
	for i, r := range cfg.Slack.Routes {
		if r.Channel != "" && replace == nil {
			routes[i] = SlackRoute(r, nil)
			routes[i].Channel = r.Channel
			continue
		}
		routes[i] = SlackRoute(r, webhook(r.WebhookURL))
	}
	if cfg.Slack.DefaultRoute != "" {
		return routes, nil, ""
	}
	if cfg.Slack.Channel != "" && replace == nil {
		return routes, nil, cfg.Slack.Channel
	}
	var def slacknotify.Sender
	if cfg.Slack.WebhookURL != "" || replace != nil || len(routes) == 0 {
		def = webhook(cfg.Slack.WebhookURL)
	}
	return routes, def, ""
}

// SlackRoute is a route of the config as the Slack notifier takes it.
func SlackRoute(r config.RouteConfig, s slacknotify.Sender) slacknotify.Route {
	m := slacknotify.Match{Project: r.Match.Project, TaskID: r.Match.TaskID, TaskName: r.Match.TaskName}
	for _, k := range r.Match.Kinds {
		m.Kinds = append(m.Kinds, diff.Kind(k))
	}
	for _, st := range r.Match.Status {
		m.Statuses = append(m.Statuses, dcs.Normalize(st))
	}
	for _, out := range r.Match.Outcome {
		m.Outcomes = append(m.Outcomes, notify.Outcome(out))
	}
	for _, sv := range r.Match.Severity {
		m.Severities = append(m.Severities, notify.Severity(sv))
	}
	return slacknotify.Route{Name: r.Name, Match: m, Sender: s, Mentions: r.Mentions, Continue: r.Continue, Template: r.Template}
}

// Run polls on the configured schedule and delivers to Slack (when on)
// until ctx is done.
func (a *App) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() { errs <- a.Poller.Run(ctx, a.Config.Poll.Schedule) })
	if a.Slack != nil {
		wg.Go(func() { errs <- a.Slack.Run(ctx) })
	}
	wg.Wait()
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	return errors.Join(all...)
}

// Stop closes the NATS connection and shuts the embedded server down.
func (a *App) Stop() { a.Broker.Close() }

// limiter paces API calls at perSecond, with bursts of up to one second's
// worth; nil (no limit) for 0.
func limiter(perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond)))
}
