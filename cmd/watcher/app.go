package main

import (
	"context"
	"fmt"
	"net/http"
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
	"github.com/dcs-watcher/watcher/internal/state"
)

// app is the watcher wired together: NATS, stream, snapshots, poller and
// Slack notifier.
type app struct {
	broker *broker.Broker
	snaps  *state.Snapshots
	poller *poller.Poller
	slack  *slacknotify.Notifier // nil when Slack is off
}

type appOptions struct {
	noSlack bool
	// slackSender replaces the webhook (the demo's console sink).
	slackSender slacknotify.Sender
	published   func(notify.Envelope)
	// cycled hears of each cycle poller.Run makes (the bench times them).
	cycled func(poller.Stats, error)
	now    func() time.Time
	// getenv reads the SDK's region endpoint override
	// (HUAWEICLOUD_SDK_REGION_DCS_<REGION>); nil reads nothing.
	getenv func(string) string
}

// start wires the watcher from a validated config.
func start(ctx context.Context, cfg config.Config, log zerolog.Logger, o appOptions) (*app, error) {
	endpoint := cfg.DCS.Endpoint
	if endpoint == "" {
		getenv := o.getenv
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
		Now:          o.now,
		Limiter:      limiter(cfg.DCS.RateLimit),
		// The list's pages, once the first has told how many, at the pace
		// of the detail calls.
		ListConcurrency: cfg.DCS.Concurrency,
	})
	if err != nil {
		return nil, fmt.Errorf("dcs client: %w", err)
	}

	b, err := broker.Start(ctx, broker.Options{
		URL: cfg.NATS.URL, CredsFile: cfg.NATS.CredsFile, Token: cfg.NATS.Token,
		Listen: cfg.NATS.Listen, DataDir: cfg.DataDir, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	a := &app{broker: b}
	if err := a.wire(ctx, cfg, log, client, o); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *app) wire(ctx context.Context, cfg config.Config, log zerolog.Logger, client *dcs.Client, o appOptions) error {
	if _, err := notify.EnsureStream(ctx, a.broker.JS, notify.StreamOptions{
		Name: cfg.NATS.Stream, Prefix: cfg.NATS.SubjectPrefix,
		Duplicates: cfg.NATS.DuplicateWindow, MaxAge: cfg.NATS.MaxAge, Replicas: cfg.NATS.Replicas,
	}); err != nil {
		return err
	}
	snaps, err := state.Open(ctx, a.broker.JS, state.BucketOptions{
		Bucket: cfg.NATS.KVBucket, Replicas: cfg.NATS.Replicas,
		OnCorrupt: func(key string, err error) {
			log.Error().Err(err).Str("key", key).Msg("corrupt snapshot skipped: the task will be seen as new")
		},
	})
	if err != nil {
		return err
	}
	a.snaps = snaps
	a.poller = poller.New(client, notify.NewPublisher(a.broker.JS, cfg.NATS.Stream), snaps, poller.Options{
		ProjectID:       cfg.DCS.ProjectID,
		Region:          cfg.DCS.Region,
		SubjectPrefix:   cfg.NATS.SubjectPrefix,
		TaskIDs:         cfg.Poll.TaskIDs,
		Discover:        cfg.Poll.Discover,
		NameFilter:      cfg.Poll.NameFilter,
		EveryCycle:      cfg.Poll.Detail == config.DetailEveryCycle,
		RefreshActive:   cfg.Poll.RefreshActive,
		RefreshTerminal: cfg.Poll.RefreshTerminal,
		Concurrency:     cfg.DCS.Concurrency,
		Now:             o.now,
		Logger:          log.With().Str("component", "poller").Logger(),
		Published:       o.published,
		Cycled:          o.cycled,
	})
	if o.noSlack || (!cfg.Slack.Enabled && o.slackSender == nil) {
		return nil
	}
	sender := o.slackSender
	if sender == nil {
		sender = slacknotify.WebhookSender{URL: cfg.Slack.WebhookURL, HTTPClient: &http.Client{Timeout: 15 * time.Second}}
	}
	kinds := make([]diff.Kind, len(cfg.Slack.Kinds))
	for i, k := range cfg.Slack.Kinds {
		kinds[i] = diff.Kind(k)
	}
	a.slack = slacknotify.New(a.broker.JS, sender, slacknotify.Options{
		Stream:        cfg.NATS.Stream,
		Consumer:      cfg.Slack.Consumer,
		FilterSubject: cfg.NATS.SubjectPrefix + ".>",
		Kinds:         kinds,
		MarksBucket:   cfg.Slack.MarksBucket,
		MaxRetryDelay: cfg.Slack.MaxRetryDelay,
		Rate:          cfg.Slack.Rate,
		GroupMin:      cfg.Slack.GroupMin,
		NoGrouping:    cfg.Slack.GroupMin == 0,
		GroupMax:      cfg.Slack.GroupMax,
		Logger:        log.With().Str("component", "slack").Logger(),
	})
	return nil
}

func (a *app) close() { a.broker.Close() }

// limiter paces API calls at perSecond, with bursts of up to one second's
// worth; nil (no limit) for 0.
func limiter(perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond)))
}
