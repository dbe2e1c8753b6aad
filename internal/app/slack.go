package app

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/delivery"
	"github.com/dcs-watcher/watcher/internal/notify/slackact"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/secret"
)

// newSlack makes the one Slack notifier, a consumer on js of every
// project's events; health is where it announces a dead destination,
// clicks what the cards' buttons did (none without an app token), silences
// what holds a reminder back and catchUp what each silence hid.
func newSlack(js jetstream.JetStream, cfg config.Config, health *notify.Publisher, project string, o Options, clicks slackButtons,
	silences delivery.Silences, catchUp delivery.CatchUp) (*delivery.Notifier, error) {
	log := o.Logger
	routes, sender, channel := slackDestinations(cfg, o.SlackSender)
	var bot *slackwire.Bot
	if cfg.Slack.BotToken != "" && o.SlackSender == nil {
		bot = slackwire.NewBot(cfg.Slack.BotToken, cfg.Slack.APIURL, &http.Client{Timeout: cfg.Slack.Timeout})
	}
	kinds := make([]diff.Kind, len(cfg.Slack.Kinds))
	for i, k := range cfg.Slack.Kinds {
		kinds[i] = diff.Kind(k)
	}
	return delivery.New(js, sender, delivery.Options{
		Stream:   cfg.NATS.Stream,
		Consumer: cfg.Slack.Consumer,
		// Task events have five tokens after the prefix, heartbeats two
		// (event.HeartbeatSubject): the Slack consumer never sees those. A
		// consumer made with an older filter is updated to this one.
		FilterSubject: cfg.NATS.SubjectPrefix + ".*.*.*.*.>",
		Kinds:         kinds,
		MarksBucket:   cfg.Slack.MarksBucket,
		Bot:           bot,
		Channel:       channel,
		CardsBucket:   cfg.Slack.CardsBucket,
		Buttons:       clicks.source,
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
		RemindEvery:  cfg.Slack.RemindEvery,
		Acks:         clicks.acknowledged(),
		Silences:     silences,
		CatchUp:      catchUp,
		Logger:       log.With().Str("component", "slack").Logger(),
		Now:          o.Now,
	})
}

// slackDestinations are the routes of slack.routes and the default
// destination: a sender (slack.webhook_url) or, in bot mode, a channel
// (slack.channel); neither when there is none. A route gives a webhook or
// a channel. A replacement sender (the demo's console) stands for every
// destination, channels included.
func slackDestinations(cfg config.Config, replace delivery.Sender) ([]delivery.Route, delivery.Sender, string) {
	webhook := func(url secret.Secret) delivery.Sender {
		if replace != nil {
			return replace
		}
		return slackwire.WebhookSender{URL: url, HTTPClient: &http.Client{Timeout: cfg.Slack.Timeout}}
	}
	routes := make([]delivery.Route, len(cfg.Slack.Routes))
	for i, r := range cfg.Slack.Routes {
		if r.Channel != "" && replace == nil {
			routes[i] = SlackRoute(r, nil)
			routes[i].Channel = r.Channel
			continue
		}
		routes[i] = SlackRoute(r, webhook(r.WebhookURL))
	}
	def, ok := defaultDestination(cfg)
	switch {
	case def.Route != "":
		return routes, nil, ""
	case def.Channel != "" && replace == nil:
		return routes, nil, def.Channel
	case ok || replace != nil || len(routes) == 0:
		return routes, webhook(def.Webhook), ""
	}
	return routes, nil, ""
}

// SlackRoute is a route of the config as the Slack notifier takes it.
func SlackRoute(r config.RouteConfig, s delivery.Sender) delivery.Route {
	return delivery.Route{Name: r.Name, Match: NotifyMatch(r.Match), Sender: s, Mentions: r.Mentions, Continue: r.Continue, Template: r.Template}
}

// SlackDestination is one place the watcher posts to: a channel of the
// bot-token mode, or a webhook.
type SlackDestination struct {
	// Route is the route of slack.routes it is; "" for slack.channel or
	// slack.webhook_url.
	Route    string
	Channel  string
	Webhook  secret.Secret
	Mentions []string
	Template string
}

// defaultDestination is where an event no route takes goes:
// slack.default_route's route (by its name only), else slack.channel in the
// bot-token mode, else slack.webhook_url; ok is false when there is none.
func defaultDestination(cfg config.Config) (d SlackDestination, ok bool) {
	s := cfg.Slack
	switch {
	case s.DefaultRoute != "":
		return SlackDestination{Route: s.DefaultRoute}, true
	case s.Channel != "":
		return SlackDestination{Channel: s.Channel, Template: s.Template}, true
	case s.WebhookURL != "":
		return SlackDestination{Webhook: s.WebhookURL, Template: s.Template}, true
	}
	return SlackDestination{}, false
}

// SlackDestinationOf is the destination of the route named name, or with
// name "" the default destination (notify-test posts there).
func SlackDestinationOf(cfg config.Config, name string) (SlackDestination, error) {
	if name == "" {
		d, ok := defaultDestination(cfg)
		if !ok {
			return d, fmt.Errorf("slack.webhook_url: not set (or set %s), and no slack.default_route nor slack.channel", config.EnvSlackWebhook)
		}
		if d.Route == "" {
			return d, nil
		}
		name = d.Route
	}
	var names []string
	for _, r := range cfg.Slack.Routes {
		if r.Name == name {
			// Validation ensures a channel route has the bot token.
			return SlackDestination{Route: r.Name, Webhook: r.WebhookURL, Channel: r.Channel, Mentions: r.Mentions, Template: r.Template}, nil
		}
		names = append(names, r.Name)
	}
	return SlackDestination{}, fmt.Errorf("--route %q: no such route in slack.routes (routes: %s)", name, strings.Join(names, ", "))
}

// SlackMode says how the watcher posts to Slack (watcher validate): off,
// a webhook, a bot channel, or routes in order and then the default
// destination. It names channels, never a webhook's URL.
func SlackMode(cfg config.Config) string {
	if !cfg.Slack.Enabled {
		return "off"
	}
	def, ok := defaultDestination(cfg)
	mode := "no default destination"
	switch {
	case def.Route != "":
		mode = "default route " + def.Route
	case ok:
		mode = def.mode()
	}
	if cfg.Slack.BotToken != "" && !usesChannel(cfg.Slack) {
		mode += " (slack.bot_token is set but unused: no slack.channel nor route channel)"
	}
	if len(cfg.Slack.Routes) == 0 {
		return mode
	}
	routes := make([]string, len(cfg.Slack.Routes))
	for i, r := range cfg.Slack.Routes {
		routes[i] = r.Name + ": " + SlackDestination{Channel: r.Channel}.mode()
	}
	return fmt.Sprintf("routes (%s), %s", strings.Join(routes, "; "), mode)
}

// usesChannel says whether anything posts as the bot: the default
// channel or a route's.
func usesChannel(s config.SlackConfig) bool {
	if s.Channel != "" {
		return true
	}
	for _, r := range s.Routes {
		if r.Channel != "" {
			return true
		}
	}
	return false
}

// mode is "bot channel C" or "webhook".
func (d SlackDestination) mode() string {
	if d.Channel != "" {
		return "bot channel " + d.Channel
	}
	return "webhook"
}

// slackButtons is what the notifier reads of the cards' buttons: the
// listener that says what a card shows (nil: no buttons) and the store of
// the acknowledgements that stop reminders.
type slackButtons struct {
	source delivery.Buttons
	acks   slackact.Store
}

// acknowledged is the store as the notifier's Acks; nil without buttons.
func (b slackButtons) acknowledged() delivery.Acks {
	if b.acks.KV == nil {
		return nil
	}
	return b.acks
}
