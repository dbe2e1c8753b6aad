package config

import (
	"strings"
	"testing"
)

// buttonsConfig is a valid bot-mode config with buttons; its tokens are
// planted.
func buttonsConfig() Config {
	c := validConfig()
	c.Slack.WebhookURL = ""
	c.Slack.Channel, c.Slack.BotToken = "C0ONCALL", "xoxb-PLANTED-BOT"
	c.Slack.AppToken = "xapp-1-PLANTED-APP"
	c.Slack.Actors = []string{"S0ONCALL"}
	return c
}

// TestButtonsConfig: a bot-mode config with an app token is valid, and
// each wrong key of the buttons is reported at its key path, never with
// a token in the message.
func TestButtonsConfig(t *testing.T) {
	if err := buttonsConfig().Validate(); err != nil {
		t.Fatalf("valid buttons config: %v", err)
	}
	tests := []struct {
		name   string
		modify func(*Config)
		key    string
		want   string
	}{
		{"app token without bot mode", func(c *Config) {
			c.Slack.BotToken, c.Slack.Channel, c.Slack.WebhookURL = "", "", "https://hooks.example/PLANTED"
		}, "slack.app_token", "need the bot-token mode"},
		{"bot token as app token", func(c *Config) { c.Slack.AppToken = "xoxb-PLANTED-APP" }, "slack.app_token", "not an app-level token"},
		{"console url template", func(c *Config) { c.Slack.ConsoleURL = "https://x/{{.Task" }, "slack.console_url", "console url template"},
		{"console url field", func(c *Config) { c.Slack.ConsoleURL = "https://x/{{.Name}}" }, "slack.console_url", "Name"},
		{"console url not http", func(c *Config) { c.Slack.ConsoleURL = "javascript:alert({{.TaskID}})" }, "slack.console_url", "http(s) URL"},
		{"actor not a group", func(c *Config) { c.Slack.Actors = []string{"S0ONCALL", "U0ANA"} }, "slack.actors[1]", `invalid user group id "U0ANA"`},
		{"actors without app token", func(c *Config) { c.Slack.AppToken = "" }, "slack.actors", "without slack.app_token"},
		{"actions bucket shared", func(c *Config) { c.Slack.ActionsBucket = c.Slack.CardsBucket }, "slack.actions_bucket", "must differ"},
		{"actions bucket name", func(c *Config) { c.Slack.ActionsBucket = "a b" }, "slack.actions_bucket", "invalid name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := buttonsConfig()
			tc.modify(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "PLANTED") {
				t.Errorf("a token reached the error: %v", err)
			}
			for _, fe := range fieldErrors(err) {
				if fe.Key == tc.key && strings.Contains(fe.Error(), tc.want) {
					return
				}
			}
			t.Errorf("no %s error with %q in: %v", tc.key, tc.want, err)
		})
	}
	if c := validConfig(); c.Slack.AppToken != "" || c.Validate() != nil {
		t.Error("a config without an app token needs nothing of the buttons")
	}
}

// TestAppTokenFromEnv: WATCHER_SLACK_APP_TOKEN sets slack.app_token,
// trimmed.
func TestAppTokenFromEnv(t *testing.T) {
	file := "slack:\n  enabled: true\n  bot_token: xoxb-file\n  channel: C0ONCALL\n"
	env := credsEnv()
	env[EnvSlackAppToken] = " xapp-1-ENV \n"
	c, err := Parse([]byte(file), "t.yaml", testEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.Slack.AppToken.Reveal() != "xapp-1-ENV" {
		t.Errorf("app token %q, want the env's", c.Slack.AppToken.Reveal())
	}
}
