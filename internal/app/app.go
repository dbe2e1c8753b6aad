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
	"sync"
	"sync/atomic"

	"github.com/dcs-watcher/watcher/internal/broker"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/lease"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/delivery"
	"github.com/dcs-watcher/watcher/internal/notify/slackact"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/silence"
	"github.com/dcs-watcher/watcher/internal/state"
	"github.com/dcs-watcher/watcher/internal/statuspage"
)

// App is the watcher wired together. Stop it with Stop.
type App struct {
	Broker *broker.Broker
	Snaps  *state.Snapshots
	// Projects are the watched projects in the config's order, each with
	// its own DCS client and poller; one stream, one snapshot bucket and
	// one Slack notifier serve them all.
	Projects []Project
	// Poller is the first project's poller, the only one of a
	// single-project config (the bench and the demo drive it).
	Poller *poller.Poller
	Slack  *delivery.Notifier // nil when Slack is off
	// Buttons answers the cards' buttons over Socket Mode; nil without
	// slack.app_token.
	Buttons *slackact.Listener
	// Status is the status page's model (http.status_page); nil when off.
	Status *statuspage.Model
	Config config.Config
	// Leases elect each project's leader among replicas (external NATS);
	// nil with the embedded server, where this process is the only one.
	Leases *lease.Store
	// Silences marks the events a silence or a mute window holds
	// (data.silenced); Catchup remembers what each hid, for the Slack
	// notifier to skip and, when the silence ends, to post (Observe, Due,
	// Done).
	Silences *silence.Set
	Catchup  *silence.Tracker
	// silenceStore is the silences' bucket (the cards' Silence button).
	silenceStore *silence.Store
	// stopSilences ends the silences' watches with the app.
	stopSilences context.CancelFunc
	opts         Options
	events       *notify.Publisher // the region-less publisher (catch-up events)
	live         atomic.Int64      // replicas alive, by their heartbeats
	held         atomic.Int64      // leases this replica holds
	leads        []atomic.Bool     // by project: this replica holds its lease
}

// Project is one watched project and the poller that watches it.
type Project struct {
	config.Project
	Poller *poller.Poller
	client *dcs.Client
	pub    *notify.Publisher
}

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

// watcherProject stands for the project in the events about the watcher
// itself (a recreated store, a dead Slack destination) when several
// projects share it; the Slack notifier uses the same token.
const watcherProject = "_watcher"

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
	lost.pub, lost.project = base, watcherProject
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
		if a.Leases, err = openLeases(ctx, a.Broker, cfg, log); err != nil {
			return err
		}
		a.leads = make([]atomic.Bool, len(a.Projects))
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

// Run polls every project on the configured schedule, each with its own
// poller, delivers to Slack (when on) and feeds the status page (when on)
// until ctx is done.
func (a *App) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(a.Projects)+1)
	if a.Leases != nil {
		wg.Go(func() { a.heartbeat(ctx) })
	}
	for i, p := range a.Projects {
		wg.Go(func() {
			run := p.Poller.Run
			if a.Leases != nil {
				run = func(ctx context.Context, spec string) error { return a.lead(ctx, i, spec) }
			}
			if err := run(ctx, a.Config.Poll.Schedule); err != nil {
				errs <- fmt.Errorf("project %s: %w", p.Name, err)
			}
		})
	}
	if a.Slack != nil {
		wg.Go(func() { errs <- a.Slack.Run(ctx) })
		wg.Go(func() { a.Catchup.RunCatchUp(ctx, catchUpEvery, a.now, a.repost) }) // the loop of CatchUp
	}
	if a.Buttons != nil {
		wg.Go(func() { errs <- a.Buttons.Run(ctx) })
	}
	if a.Status != nil {
		wg.Go(func() { errs <- a.ServeStatus(ctx) })
	}
	wg.Wait()
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	return errors.Join(all...)
}

// Cycle runs one watch cycle of every project at once (the once command),
// and returns each project's error, naming the project.
func (a *App) Cycle(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(a.Projects))
	for i, p := range a.Projects {
		wg.Go(func() {
			if _, err := p.Poller.Cycle(ctx); err != nil {
				errs[i] = fmt.Errorf("project %s: %w", p.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Stop closes the NATS connection and shuts the embedded server down.
func (a *App) Stop() {
	if a.stopSilences != nil {
		a.stopSilences()
	}
	a.Broker.Close()
}
