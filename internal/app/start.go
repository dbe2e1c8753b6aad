package app

import (
	"context"
	"sync/atomic"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/broker"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/state"
)

// Start wires the watcher from a validated config. Nothing polls until Run.
func Start(ctx context.Context, cfg config.Config, o Options) (*App, error) {
	projects, clients, err := clientsFor(ctx, cfg, o)
	if err != nil {
		return nil, err
	}
	if cfg.DCS.ProjectID == "" && len(cfg.DCS.Projects) == 0 {
		cfg.DCS.ProjectID = projects[0].ProjectID // looked up in IAM
	}
	b, err := broker.Start(ctx, broker.Options{
		URL: cfg.NATS.URL, CredsFile: cfg.NATS.CredsFile, Token: cfg.NATS.Token,
		Listen: cfg.NATS.Listen, DataDir: cfg.DataDir, Logger: o.Logger,
		SubjectPrefix: cfg.NATS.SubjectPrefix, Stream: cfg.NATS.Stream, Consumers: []string{cfg.Slack.Consumer},
	})
	if err != nil {
		return nil, err
	}
	a := &App{Broker: b, Config: cfg, opts: o}
	if err := a.wire(ctx, projects, clients, o); err != nil {
		a.Stop()
		return nil, err
	}
	return a, nil
}

func (a *App) wire(ctx context.Context, projects []config.Project, clients []*dcs.Client, o Options) error {
	cfg, log := a.Config, o.Logger
	streamOpts := notify.StreamOptions{
		Name: cfg.NATS.Stream, Prefix: cfg.NATS.SubjectPrefix,
		Duplicates: cfg.NATS.DuplicateWindow, MaxAge: cfg.NATS.MaxAge, Replicas: cfg.NATS.Replicas,
	}
	if _, err := notify.EnsureStream(ctx, a.Broker.JS, streamOpts); err != nil {
		return err
	}
	lost := &storeLost{log: log, now: o.Now, published: o.Published}
	base := notify.NewPublisher(a.Broker.JS, notify.PublisherOptions{
		Stream: cfg.NATS.Stream, Prefix: cfg.NATS.SubjectPrefix,
		Region:   cfg.DCS.Region,
		Recreate: streamOpts, OnRecreate: lost.report,
	})
	// The stream and the bucket are everyone's: with one project their
	// reports are its own, as they always were; with several, the
	// watcher's.
	a.events = base
	// event.WatcherProject stands for the project in the events about the
	// watcher itself (a recreated store, a dead Slack destination) when
	// several projects share it; the Slack notifier uses the same token.
	lost.pub, lost.project = base, event.WatcherProject
	healthProject := ""
	if len(projects) == 1 {
		lost.pub, lost.project = base.ForRegion(projects[0].Region), projects[0].ProjectID
		healthProject = projects[0].ProjectID
	}
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
	watchCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.stopSilences = cancel
	if err := a.openSilences(watchCtx, log); err != nil {
		return err
	}
	for i, p := range projects {
		pub := base.ForRegion(p.Region)
		// With leases, each tenure has a poller (and a journal) of its own.
		var journal poller.JournalOptions
		if cfg.NATS.URL == "" {
			journal = a.journal(p, "", nil)
		}
		a.Projects = append(a.Projects, Project{Project: p, Poller: a.poller(p, clients[i], pub, o, nil, journal), client: clients[i], pub: pub})
	}
	if cfg.NATS.URL != "" {
		if a.Leases, err = openLeases(ctx, a.Broker, cfg, o.Replica, log); err != nil {
			return err
		}
		a.leads = make([]atomic.Bool, len(a.Projects))
		a.newBeats(a.Leases.Identity())
	} else {
		a.newBeats(o.Replica)
	}
	a.Poller = a.Projects[0].Poller
	a.Status = a.newStatus(o)
	if o.NoSlack || (!cfg.Slack.Enabled && o.SlackSender == nil) {
		return nil
	}
	// The listener redraws a clicked card through the notifier, which
	// draws every card with what the listener read: the listener comes
	// first, with the notifier set as its Redrawer before either runs.
	redraw := &notifierRedraw{}
	var clicks slackButtons
	if a.Buttons, clicks.acks, err = newButtons(ctx, a.Broker.JS, cfg, o, redraw, buttonSilences{a.silenceStore, a.now}, logTail(a.Projects)); err != nil {
		return err
	}
	if a.Buttons != nil {
		clicks.source = a.Buttons
	}
	if a.Slack, err = newSlack(a.Broker.JS, cfg, lost.pub, healthProject, o, clicks, a.Silences, a.Catchup); err != nil {
		return err
	}
	redraw.n = a.Slack
	return nil
}
