package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dcs-watcher/watcher/internal/diff"
)

// Limits of the slack section.
const (
	// slackRateCeiling is far above what an incoming webhook accepts (about
	// 1 per second per channel): beyond it a rate is a typo.
	slackRateCeiling = 10
	// slackGroupMaxCeiling is also the Slack consumer's MaxAckPending, the
	// events one replica holds unacked while it paces them out.
	slackGroupMaxCeiling = 1000
)

// validateSlack checks the slack section: the default destination, the
// kinds posted, the buckets, the bot-token mode, the delays and the pace;
// the routes are checked in routes.go.
func (c Config) validateSlack(p *problems) {
	s := c.Slack
	switch {
	case s.Enabled && s.WebhookURL == "" && s.Channel == "" && len(s.Routes) == 0:
		p.add("slack.webhook_url", "required when slack.enabled is true and there are no slack.routes nor slack.channel (or set %s)", EnvSlackWebhook)
	case s.WebhookURL != "" && !isHTTPURL(s.WebhookURL.Reveal()):
		// The URL is the credential: never echo it, nor url.Parse's error,
		// which quotes its input.
		p.add("slack.webhook_url", "not an http(s) URL")
	}
	for i, k := range s.Kinds {
		if msg := kindProblem(k); msg != "" {
			p.add(fmt.Sprintf("slack.kinds[%d]", i), "%s", msg)
		}
		if k == string(diff.Discovered) && s.QuietStart {
			p.add(fmt.Sprintf("slack.kinds[%d]", i), "discovered is governed by slack.quiet_start (true: only a task failed at first sight posts); set slack.quiet_start: false to post every discovered")
		}
	}
	if s.Enabled && len(s.Kinds) == 0 {
		p.add("slack.kinds", "empty, so nothing would be posted: list at least one kind, or set slack.enabled: false")
	}
	checkName(p, "slack.consumer", s.Consumer)
	checkName(p, "slack.marks_bucket", s.MarksBucket)
	c.validateBot(p)
	c.validateButtons(p)
	if s.MarksBucket != "" && s.MarksBucket == c.NATS.KVBucket {
		p.add("slack.marks_bucket", "must differ from nats.kv_bucket: delivery marks and snapshots would share keys")
	}
	switch {
	case s.MinRetryDelay <= 0:
		p.add("slack.min_retry_delay", "must be positive, got %s", s.MinRetryDelay)
	case s.MaxRetryDelay < s.MinRetryDelay:
		p.add("slack.max_retry_delay", "must be at least slack.min_retry_delay (%s), got %s", s.MinRetryDelay, s.MaxRetryDelay)
	}
	if s.Timeout <= 0 {
		p.add("slack.timeout", "must be positive, got %s", s.Timeout)
	}
	if s.DeadRetry <= 0 {
		p.add("slack.dead_retry", "must be positive, got %s", s.DeadRetry)
	}
	c.validateSlackPace(p)
	if s.DegradedFor < 0 {
		p.add("slack.degraded_for", "must be 0 (post at once) or above, got %s", s.DegradedFor)
	}
	// A reminder's record lives in the marks bucket, whose entries expire
	// after a week unless rewritten: each reminder rewrites it.
	if s.RemindEvery != 0 && (s.RemindEvery < time.Minute || s.RemindEvery > 7*24*time.Hour) {
		p.add("slack.remind_every", "must be 0 (never) or between 1m and 168h, got %s", s.RemindEvery)
	}
	c.validateRoutes(p)
	c.validateMuteWindows(p)
}

// validateMuteWindows checks slack.mute_windows and the silences' bucket.
func (c Config) validateMuteWindows(p *problems) {
	s := c.Slack
	checkName(p, "slack.silences_bucket", s.SilencesBucket)
	if s.SilencesBucket != "" && slices.Contains([]string{s.MarksBucket, s.CardsBucket, c.NATS.KVBucket}, s.SilencesBucket) {
		p.add("slack.silences_bucket", "must differ from slack.marks_bucket, slack.cards_bucket and nats.kv_bucket")
	}
	names := map[string]int{}
	for i, w := range s.MuteWindows {
		key := fmt.Sprintf("slack.mute_windows[%d]", i)
		switch {
		case w.Name == "":
			p.add(key+".name", "required")
		case !isToken(w.Name, true):
			p.add(key+".name", "invalid name %q (letters, digits, - and _ only: it names the window's silence)", w.Name)
		default:
			if j, dup := names[w.Name]; dup {
				p.add(key+".name", "duplicate window name %q (also slack.mute_windows[%d])", w.Name, j)
			} else {
				names[w.Name] = i
			}
		}
		if strings.TrimSpace(w.Schedule) == "" {
			p.add(key+".schedule", "required (a cron spec, e.g. \"0 2 * * *\")")
		} else if _, err := cron.ParseStandard(w.Schedule); err != nil {
			p.add(key+".schedule", "invalid cron spec %q: %v", w.Schedule, err)
		}
		if w.Duration <= 0 {
			p.add(key+".duration", "must be positive, got %s", w.Duration)
		}
		c.validateMatch(p, key+".match", w.Match)
	}
}

// validateBot checks the bot-token mode's keys: a channel needs the
// token, the default destination is a webhook or a channel, not both, and
// the cards bucket is a bucket of its own.
func (c Config) validateBot(p *problems) {
	s := c.Slack
	if s.Channel != "" {
		switch {
		case !isChannel(s.Channel):
			p.add("slack.channel", "invalid channel %q (want #name or a channel id C…/G…)", s.Channel)
		case s.BotToken == "":
			p.add("slack.channel", "a channel needs the bot-token mode: set slack.bot_token (or %s)", EnvSlackBotToken)
		case s.WebhookURL != "":
			p.add("slack.channel", "set either slack.webhook_url or slack.channel as the default destination, not both")
		}
	}
	if s.BotToken == "" {
		return
	}
	if !isHTTPURL(s.APIURL) {
		p.add("slack.api_url", "not an http(s) URL: %q", s.APIURL)
	}
	checkName(p, "slack.cards_bucket", s.CardsBucket)
	if s.CardsBucket != "" && (s.CardsBucket == s.MarksBucket || s.CardsBucket == c.NATS.KVBucket) {
		p.add("slack.cards_bucket", "must differ from slack.marks_bucket and nats.kv_bucket")
	}
}

func (c Config) validateSlackPace(p *problems) {
	s := c.Slack
	if !(s.Rate > 0) || s.Rate > slackRateCeiling {
		p.add("slack.rate", "must be above 0 and at most %d messages per second, got %v", slackRateCeiling, s.Rate)
	}
	groupMaxOK := s.GroupMax >= 1 && s.GroupMax <= slackGroupMaxCeiling
	if !groupMaxOK {
		p.add("slack.group_max", "must be between 1 and %d, got %d", slackGroupMaxCeiling, s.GroupMax)
	}
	switch {
	case s.GroupMin < 0 || s.GroupMin == 1:
		p.add("slack.group_min", "must be 0 (grouping off) or at least 2, got %d", s.GroupMin)
	case groupMaxOK && s.GroupMin > s.GroupMax:
		// A group is at most group_max events, so grouping would never happen.
		p.add("slack.group_min", "%d exceeds slack.group_max %d: no group could be that large (0 turns grouping off)", s.GroupMin, s.GroupMax)
	}
}
