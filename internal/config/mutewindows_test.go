package config

import (
	"strings"
	"testing"
	"time"
)

func withWindows(edit func(w []MuteWindowConfig)) func(*Config) {
	return func(c *Config) {
		c.Slack.MuteWindows = []MuteWindowConfig{
			{Name: "nightly", Schedule: "CRON_TZ=Europe/Berlin 0 2 * * *", Duration: time.Hour, Match: MatchConfig{TaskName: "batch-*"}},
			{Name: "sunday", Schedule: "@weekly", Duration: 6 * time.Hour},
		}
		edit(c.Slack.MuteWindows)
	}
}

// TestValidateMuteWindows: each bad window is reported at its key, once.
func TestValidateMuteWindows(t *testing.T) {
	c := validConfig()
	withWindows(func([]MuteWindowConfig) {})(&c)
	if err := c.Validate(); err != nil {
		t.Fatalf("valid windows refused: %v", err)
	}
	tests := []struct {
		name   string
		modify func(*Config)
		key    string
		want   string
	}{
		{"name missing", withWindows(func(w []MuteWindowConfig) { w[1].Name = "" }), "slack.mute_windows[1].name", "required"},
		{"name invalid", withWindows(func(w []MuteWindowConfig) { w[1].Name = "sun day" }), "slack.mute_windows[1].name", `invalid name "sun day"`},
		{"name twice", withWindows(func(w []MuteWindowConfig) { w[1].Name = "nightly" }), "slack.mute_windows[1].name", "also slack.mute_windows[0]"},
		{"schedule missing", withWindows(func(w []MuteWindowConfig) { w[0].Schedule = " " }), "slack.mute_windows[0].schedule", "required"},
		{"schedule invalid", withWindows(func(w []MuteWindowConfig) { w[0].Schedule = "at two" }), "slack.mute_windows[0].schedule", `invalid cron spec "at two"`},
		{"zone invalid", withWindows(func(w []MuteWindowConfig) { w[0].Schedule = "CRON_TZ=Mars/Olympus 0 2 * * *" }), "slack.mute_windows[0].schedule", "invalid cron spec"},
		{"duration zero", withWindows(func(w []MuteWindowConfig) { w[0].Duration = 0 }), "slack.mute_windows[0].duration", "must be positive"},
		{"match outcome", withWindows(func(w []MuteWindowConfig) { w[0].Match.Outcome = []string{"broken"} }), "slack.mute_windows[0].match.outcome[0]", `unknown outcome "broken"`},
		{"bucket shared", func(c *Config) { c.Slack.SilencesBucket = c.Slack.MarksBucket }, "slack.silences_bucket", "must differ"},
		{"bucket invalid", func(c *Config) { c.Slack.SilencesBucket = "a b" }, "slack.silences_bucket", `invalid name "a b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.modify(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate() = nil")
			}
			if !strings.HasPrefix(err.Error(), tc.key+": ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %q\nwant %q, then a message with %q", err, tc.key+": ", tc.want)
			}
			if n := len(fieldErrors(err)); n != 1 {
				t.Errorf("%d problems, want 1: %v", n, err)
			}
		})
	}
}
