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
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/dcs-watcher/watcher/internal/broker"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/lease"
	"github.com/dcs-watcher/watcher/internal/notify"
	slacknotify "github.com/dcs-watcher/watcher/internal/notify/slack"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/state"
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
	Slack  *slacknotify.Notifier // nil when Slack is off
	Config config.Config
	// Leases elect each project's leader among replicas (external NATS);
	// nil with the embedded server, where this process is the only one.
	Leases *lease.Store
	opts   Options
	live   atomic.Int64  // replicas alive, by their heartbeats
	held   atomic.Int64  // leases this replica holds
	leads  []atomic.Bool // by project: this replica holds its lease
}

// Project is one watched project and the poller that watches it.
type Project struct {
	config.Project
	Poller *poller.Poller
	client *dcs.Client
	pub    *notify.Publisher
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
	// DCSCalled hears of each DCS API call when it ends (metrics).
	DCSCalled func(call, outcome string, took time.Duration)
	Now       func() time.Time
	// Getenv reads the SDK's region endpoint override
	// (HUAWEICLOUD_SDK_REGION_DCS_<REGION>); nil reads nothing.
	Getenv func(string) string
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

// clientsFor resolves the account's credentials once and builds each
// watched project's DCS client; the single project of dcs.region without a
// dcs.project_id gets its id from IAM.
func clientsFor(ctx context.Context, cfg config.Config, o Options) ([]config.Project, []*dcs.Client, error) {
	source, err := credentials(ctx, cfg, o)
	if err != nil {
		return nil, nil, err
	}
	projects := cfg.Projects()
	// The API throttles per account and every project is signed with the
	// same credentials: one budget for all, each project's own cap inside it.
	account := limiter(cfg.DCS.RateLimit)
	clients := make([]*dcs.Client, len(projects))
	for i, p := range projects {
		if p.ProjectID == "" {
			if p.ProjectID, err = lookupProject(ctx, cfg, source, o); err != nil {
				return nil, nil, err
			}
			projects[i].ProjectID = p.ProjectID
			if projects[i].Name == "" {
				projects[i].Name = p.ProjectID
			}
		}
		c, err := dcsClient(cfg, p, source, account, o)
		if err != nil {
			return nil, nil, fmt.Errorf("%s (project %s): %w", p.Key, p.Name, err)
		}
		clients[i] = c
	}
	return projects, clients, nil
}

// credentials resolves where the DCS credentials come from (dcs.credentials:
// the config, the environment, the profile file or the ECS metadata
// service), once for every project: they are one account's. It logs the
// source, never a credential.
func credentials(ctx context.Context, cfg config.Config, o Options) (dcs.CredentialSource, error) {
	d := cfg.DCS
	static := dcs.Credentials{AK: d.AK, SK: d.SK, SecurityToken: d.SecurityToken, AuthToken: d.AuthToken}
	var (
		source dcs.CredentialSource = dcs.Static(static)
		from                        = "config"
	)
	// A local simulator runs unauthenticated unless the config says
	// otherwise: auto must not sign calls to it with a profile's keys.
	if !(cfg.LocalOnly() && d.Credentials == config.CredentialsAuto) {
		var err error
		source, from, err = dcs.ResolveCredentials(ctx, dcs.ResolveOptions{
			Source: d.Credentials, Config: static, Getenv: getenv(o),
			Profile: d.Profile, ProfileFile: d.CredentialsFile,
			Metadata: dcs.MetadataOptions{Endpoint: d.MetadataEndpoint, Now: o.Now},
		})
		if err != nil {
			return nil, err
		}
	}
	o.Logger.Info().Str("component", "dcs").Str("credentials", from).Msg("dcs credentials resolved")
	return source, nil
}

// lookupProject finds the project id of dcs.region in IAM, once, and logs it.
func lookupProject(ctx context.Context, cfg config.Config, source dcs.CredentialSource, o Options) (string, error) {
	d := cfg.DCS
	project, err := dcs.LookupProjectID(ctx, dcs.ProjectLookup{
		Endpoint: d.IAMEndpoint, Region: d.Region, Source: source,
		HTTPClient: &http.Client{Timeout: d.Timeout}, Now: o.Now,
	})
	if err != nil {
		return "", err
	}
	o.Logger.Info().Str("component", "dcs").Str("project_id", project).Str("region", d.Region).Msg("project id looked up in IAM")
	return project, nil
}

func getenv(o Options) func(string) string {
	if o.Getenv == nil {
		return func(string) string { return "" }
	}
	return o.Getenv
}

// dcsClient is the DCS client of one project: the account's credentials
// and call budget, the project's own endpoint and cap.
func dcsClient(cfg config.Config, p config.Project, source dcs.CredentialSource, account *rate.Limiter, o Options) (*dcs.Client, error) {
	endpoint := p.Endpoint
	if endpoint == "" {
		endpoint = dcs.EndpointForRegion(p.Region, getenv(o))
	}
	d := cfg.DCS
	client, err := dcs.New(dcs.Options{
		Endpoint:  endpoint,
		ProjectID: p.ProjectID,
		Source:    source,
		// Idle connections for every detail call in flight and a list page.
		HTTPClient:     &http.Client{Timeout: d.Timeout, Transport: dcs.Transport(d.Concurrency + 1)},
		MaxBodyBytes:   d.MaxBodyBytes,
		UserAgent:      "dcs-watcher",
		Now:            o.Now,
		Limiter:        limiter(p.RateLimit),
		AccountLimiter: account,
		// The list's pages, once the first has told how many, at the pace
		// of the detail calls.
		ListConcurrency: d.Concurrency,
		Observe:         o.DCSCalled,
	})
	if err != nil {
		return nil, fmt.Errorf("dcs client: %w", err)
	}
	return client, nil
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
	if o.NoSlack || (!cfg.Slack.Enabled && o.SlackSender == nil) {
		return nil
	}
	return a.wireSlack(lost.pub, healthProject, o)
}

// wireSlack starts the one Slack notifier, a consumer of every project's
// events; health is where it announces a dead destination.
func (a *App) wireSlack(health *notify.Publisher, project string, o Options) error {
	cfg, log := a.Config, o.Logger
	routes, sender, channel := slackDestinations(cfg, o.SlackSender)
	var bot *slackwire.Bot
	if cfg.Slack.BotToken != "" && o.SlackSender == nil {
		bot = slackwire.NewBot(cfg.Slack.BotToken, cfg.Slack.APIURL, &http.Client{Timeout: cfg.Slack.Timeout})
	}
	kinds := make([]diff.Kind, len(cfg.Slack.Kinds))
	for i, k := range cfg.Slack.Kinds {
		kinds[i] = diff.Kind(k)
	}
	var err error
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
		Solo:        cfg.NATS.URL == "", // the embedded server: one process
		// A dead webhook is announced on the stream, beside the events
		// that wait for it.
		Health:       health,
		Project:      project,
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
		return slackwire.WebhookSender{URL: url, HTTPClient: &http.Client{Timeout: cfg.Slack.Timeout}}
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
		m.Outcomes = append(m.Outcomes, dcs.Outcome(out))
	}
	for _, sv := range r.Match.Severity {
		m.Severities = append(m.Severities, notify.Severity(sv))
	}
	return slacknotify.Route{Name: r.Name, Match: m, Sender: s, Mentions: r.Mentions, Continue: r.Continue, Template: r.Template}
}

// Run polls every project on the configured schedule, each with its own
// poller, and delivers to Slack (when on) until ctx is done.
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
func (a *App) Stop() { a.Broker.Close() }

// limiter paces API calls at perSecond, with bursts of up to one second's
// worth; nil (no limit) for 0.
func limiter(perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond)))
}
