package config

import (
	"fmt"
	"path"
	"regexp"
	"slices"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/msgtmpl"
)

// validateRoutes checks slack.routes and slack.default_route, naming the
// key of every problem.
func (c Config) validateRoutes(p *problems) {
	s := c.Slack
	names := map[string]int{}
	for i, r := range s.Routes {
		key := fmt.Sprintf("slack.routes[%d]", i)
		switch {
		case r.Name == "":
			p.add(key+".name", "required")
		case !isToken(r.Name, true):
			p.add(key+".name", "invalid name %q (letters, digits, - and _ only: it names the route's consumer)", r.Name)
		default:
			if j, dup := names[r.Name]; dup {
				p.add(key+".name", "duplicate route name %q (also slack.routes[%d])", r.Name, j)
			} else {
				names[r.Name] = i
			}
		}
		c.validateDestination(p, key, r)
		for j, m := range r.Mentions {
			if !slackmsg.ValidMention(m) {
				p.add(fmt.Sprintf("%s.mentions[%d]", key, j), "invalid mention %q (want a user id U…, a user group id S…, @here or @channel)", m)
			}
		}
		c.validateMatch(p, key+".match", r.Match)
		validateTemplate(p, key+".template", r.Template)
	}
	validateTemplate(p, "slack.template", s.Template)
	if s.DefaultRoute != "" {
		if _, ok := names[s.DefaultRoute]; !ok {
			p.add("slack.default_route", "%q is not the name of a route in slack.routes", s.DefaultRoute)
		}
		if s.WebhookURL != "" {
			p.add("slack.default_route", "set either slack.default_route or slack.webhook_url (or %s) as the default destination, not both", EnvSlackWebhook)
		}
		if s.Channel != "" {
			p.add("slack.default_route", "set either slack.default_route or slack.channel as the default destination, not both")
		}
	}
}

func (c Config) validateDestination(p *problems, key string, r RouteConfig) {
	if r.Channel != "" && !isChannel(r.Channel) {
		p.add(key+".channel", "invalid channel %q (want #name or a channel id C…/G…)", r.Channel)
		return
	}
	switch {
	case r.WebhookURL != "" && !isHTTPURL(r.WebhookURL.Reveal()):
		// The URL is the credential: never echoed.
		p.add(key+".webhook_url", "not an http(s) URL")
	case r.WebhookURL != "" && r.Channel != "":
		p.add(key+".channel", "give the route either a webhook_url or a channel, not both")
	case r.Channel != "" && c.Slack.BotToken == "":
		p.add(key+".channel", "a channel needs the bot-token mode: set slack.bot_token (or %s)", EnvSlackBotToken)
	case r.WebhookURL == "" && r.Channel == "":
		p.add(key+".webhook_url", "required: the route's destination (or a channel, in bot-token mode)")
	}
}

// channelPattern is a channel name (#name) or id (C…, G…).
var channelPattern = regexp.MustCompile(`^(#[a-z0-9_\-]{1,80}|[CG][A-Z0-9]{2,40})$`)

func isChannel(s string) bool { return channelPattern.MatchString(s) }

func (c Config) validateMatch(p *problems, key string, m MatchConfig) {
	for k, g := range map[string]string{"project": m.Project, "task_id": m.TaskID, "task_name": m.TaskName} {
		if _, err := path.Match(g, ""); err != nil {
			p.add(key+"."+k, "invalid glob %q: %v", g, err)
		}
	}
	for j, k := range m.Kinds {
		kk := fmt.Sprintf("%s.kinds[%d]", key, j)
		switch {
		case kindProblem(k) != "":
			p.add(kk, "%s", kindProblem(k))
		case k == string(diff.Discovered) && c.Slack.QuietStart:
			// Failed discovered events post under quiet start.
		case !slices.Contains(c.Slack.Kinds, k):
			p.add(kk, "kind %q is not in slack.kinds, so it never posts", k)
		}
	}
	for j, st := range m.Status {
		if !dcs.Normalize(st).Known() {
			p.add(fmt.Sprintf("%s.status[%d]", key, j), "unknown status %q", st)
		}
	}
	for j, o := range m.Outcome {
		if !slices.Contains(dcs.Outcomes(), dcs.Outcome(o)) {
			p.add(fmt.Sprintf("%s.outcome[%d]", key, j), "unknown outcome %q (want succeeded, failed, stopped, in_progress or unknown)", o)
		}
	}
	for j, sv := range m.Severity {
		if !slices.Contains(notify.Severities(), notify.Severity(sv)) {
			p.add(fmt.Sprintf("%s.severity[%d]", key, j), "unknown severity %q (want critical, warning or info)", sv)
		}
	}
}

// validateTemplate loads a message template file, so that a template that
// does not parse, or fails on a sample event, stops the watcher at start
// with the key and the template's line, not at the first message.
func validateTemplate(p *problems, key, path string) {
	if path == "" {
		return
	}
	if _, err := msgtmpl.Load(path); err != nil {
		p.add(key, "%v", err)
	}
}
