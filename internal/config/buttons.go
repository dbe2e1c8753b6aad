package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
)

// userGroupPattern is what a Slack user group id looks like.
var userGroupPattern = regexp.MustCompile(`^S[A-Z0-9]{2,40}$`)

// validateButtons checks the keys of the cards' buttons: the app token
// needs the bot-token mode and must be an app-level token; the console
// link must make an http(s) URL; actors are user group ids; the actions
// bucket is a bucket of its own. Without an app token, actors are a
// mistake (they would limit nothing).
func (c Config) validateButtons(p *problems) {
	s := c.Slack
	if s.AppToken == "" {
		if len(s.Actors) > 0 {
			p.add("slack.actors", "limits who may click the cards' buttons, and there are none without slack.app_token (or %s)", EnvSlackAppToken)
		}
		return
	}
	switch {
	case s.BotToken == "":
		p.add("slack.app_token", "the cards' buttons need the bot-token mode: set slack.bot_token (or %s)", EnvSlackBotToken)
	case !strings.HasPrefix(s.AppToken.Reveal(), "xapp-"):
		// Never echo it: it is the credential.
		p.add("slack.app_token", "not an app-level token (want xapp-…, with the connections:write scope)")
	}
	if s.ConsoleURL != "" {
		if _, err := slackmsg.ParseConsoleURL(s.ConsoleURL); err != nil {
			p.add("slack.console_url", "%v (fields: {{.Region}}, {{.ProjectID}}, {{.TaskID}}; \"\" for no link)", err)
		}
	}
	for i, g := range s.Actors {
		if !userGroupPattern.MatchString(g) {
			p.add(fmt.Sprintf("slack.actors[%d]", i), "invalid user group id %q (want S…, as the group's profile shows it)", g)
		}
	}
	checkName(p, "slack.actions_bucket", s.ActionsBucket)
	if b := s.ActionsBucket; b != "" && (b == s.MarksBucket || b == s.CardsBucket || b == c.NATS.KVBucket) {
		p.add("slack.actions_bucket", "must differ from slack.marks_bucket, slack.cards_bucket and nats.kv_bucket")
	}
}
