package config

import (
	"time"

	"github.com/dcs-watcher/watcher/internal/secret"
)

// SlackConfig configures the Slack notifier, a durable consumer of the stream.
type SlackConfig struct {
	Enabled    bool          `yaml:"enabled" json:"enabled"`
	WebhookURL secret.Secret `yaml:"webhook_url" json:"webhook_url"`
	// BotToken turns on the bot-token mode (a Slack app's xoxb- token):
	// Channel is then the default destination, a channel where each task
	// gets a live status card with its transitions in the card's thread.
	// APIURL is Slack's Web API base; CardsBucket keeps where each card
	// is, so that a restart continues the same thread.
	BotToken    secret.Secret `yaml:"bot_token" json:"bot_token"`
	Channel     string        `yaml:"channel" json:"channel"`
	APIURL      string        `yaml:"api_url" json:"api_url"`
	CardsBucket string        `yaml:"cards_bucket" json:"cards_bucket"`
	// AppToken (the app's app-level xapp- token, connections:write) puts
	// buttons on failure cards in bot mode: Socket Mode brings their clicks
	// back, with no public endpoint. ConsoleURL is the link button's
	// template ({{.Region}}, {{.ProjectID}}, {{.TaskID}}; "": no link);
	// Actors, user group ids (S…), limit who may click (empty: anyone in
	// the channel); ActionsBucket keeps what the clicks did.
	AppToken      secret.Secret `yaml:"app_token" json:"app_token"`
	ConsoleURL    string        `yaml:"console_url" json:"console_url"`
	Actors        []string      `yaml:"actors" json:"actors"`
	ActionsBucket string        `yaml:"actions_bucket" json:"actions_bucket"`
	Kinds         []string      `yaml:"kinds" json:"kinds"` // diff.Kind values that post
	Consumer      string        `yaml:"consumer" json:"consumer"`
	MarksBucket   string        `yaml:"marks_bucket" json:"marks_bucket"` // delivery marks
	// MinRetryDelay is the first delay after a failed send; it doubles
	// with each try up to MaxRetryDelay.
	MinRetryDelay time.Duration `yaml:"min_retry_delay" json:"min_retry_delay"`
	MaxRetryDelay time.Duration `yaml:"max_retry_delay" json:"max_retry_delay"`
	// Timeout bounds one post to Slack.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// DeadRetry is how often the oldest waiting event probes a destination
	// Slack says is dead (webhook revoked, channel archived, ...), while
	// every event waits in the stream.
	DeadRetry time.Duration `yaml:"dead_retry" json:"dead_retry"`
	// Rate is the most messages per second posted to the webhook.
	Rate float64 `yaml:"rate" json:"rate"`
	// GroupMin is the smallest group of like events posted as one
	// message; 0 turns grouping off.
	GroupMin int `yaml:"group_min" json:"group_min"`
	// GroupMax is how many waiting events are pulled at once, so the
	// largest group one grouped message (or its parts) covers.
	GroupMax int `yaml:"group_max" json:"group_max"`
	// Routes send events to destinations of their own, first match wins
	// unless a route says continue; DefaultRoute names the route that
	// takes what no route matched (else webhook_url does, else nothing).
	Routes       []RouteConfig `yaml:"routes" json:"routes"`
	DefaultRoute string        `yaml:"default_route" json:"default_route"`
	// Template is a message template file for the default destination
	// (slack.webhook_url): the parts it defines replace the built-in
	// templates (README, "Templates"); "" keeps them. A route has its own.
	Template string `yaml:"template" json:"template"`
	// QuietStart: first sight (discovered) posts only for a task already
	// failed; false: discovered posts when it is in kinds.
	QuietStart bool `yaml:"quiet_start" json:"quiet_start"`
	// DegradedFor is how long a blindness must last before its
	// watch_degraded reaches Slack (its watch_recovered only follows one
	// that did); 0 posts both at once.
	DegradedFor time.Duration `yaml:"degraded_for" json:"degraded_for"`
	// RemindEvery is how often an unresolved failure is reminded (a reply
	// in the card's thread in bot mode, a short message in webhook mode)
	// until the task recovers, is acknowledged or silenced; 0 never.
	RemindEvery time.Duration `yaml:"remind_every" json:"remind_every"`
	// MuteWindows are maintenance windows: silences on a cron schedule
	// (README, "Silences"). SilencesBucket keeps the silences of watcher
	// silence add and what each hid, for the catch-up at its end.
	MuteWindows    []MuteWindowConfig `yaml:"mute_windows" json:"mute_windows"`
	SilencesBucket string             `yaml:"silences_bucket" json:"silences_bucket"`
}

// MuteWindowConfig is one entry of slack.mute_windows: from each
// activation of Schedule (a cron spec as poll.schedule's, in the
// watcher's time zone unless it starts with CRON_TZ=<zone>) for Duration,
// the events Match selects (every event when empty) are published marked
// silenced "window:<Name>" and not posted to Slack.
type MuteWindowConfig struct {
	Name     string        `yaml:"name" json:"name"`
	Schedule string        `yaml:"schedule" json:"schedule"`
	Duration time.Duration `yaml:"duration" json:"duration"`
	Match    MatchConfig   `yaml:"match" json:"match"`
}

// RouteConfig is one entry of slack.routes.
type RouteConfig struct {
	Name  string      `yaml:"name" json:"name"`
	Match MatchConfig `yaml:"match" json:"match"`
	// WebhookURL is the destination in webhook mode; Channel the one of
	// the bot-token mode (needs slack.bot_token). A route has one or the
	// other: webhook and bot destinations may be mixed across routes.
	WebhookURL secret.Secret `yaml:"webhook_url" json:"webhook_url"`
	Channel    string        `yaml:"channel" json:"channel"`
	// Mentions: user ids (U…, W…), user group ids (S…), @here, @channel.
	Mentions []string `yaml:"mentions" json:"mentions"`
	Continue bool     `yaml:"continue" json:"continue"`
	// Template is a message template file for this route's messages, as
	// slack.template is for the default destination.
	Template string `yaml:"template" json:"template"`
}

// MatchConfig selects events; an empty key matches every event.
type MatchConfig struct {
	Project  string   `yaml:"project" json:"project"`     // glob (path.Match)
	TaskID   string   `yaml:"task_id" json:"task_id"`     // glob
	TaskName string   `yaml:"task_name" json:"task_name"` // glob; '*' does not cross '/'
	Kinds    []string `yaml:"kinds" json:"kinds"`
	Status   []string `yaml:"status" json:"status"` // new status, any spelling dcs knows
	Outcome  []string `yaml:"outcome" json:"outcome"`
	Severity []string `yaml:"severity" json:"severity"`
}
