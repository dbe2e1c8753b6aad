package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{"top level", "log:\n  level: info\nslakc:\n  enabled: true\n",
			[]string{`t.yaml:3: unknown key "slakc"`, `did you mean "slack"?`}},
		{"nested", "slack:\n  enabled: false\n  webhok_url: x\n",
			[]string{`t.yaml:3: unknown key "slack.webhok_url"`, `did you mean "slack.webhook_url"?`}},
		{"wrong case", "DCS:\n  region: cn-north-4\n",
			[]string{`t.yaml:1: unknown key "DCS"`, `did you mean "dcs"?`}},
		{"nothing close", "dcs:\n  password: x\n",
			[]string{`t.yaml:2: unknown key "dcs.password"`}},
		{"in flow mapping", "nats: {url: '', strem: X}\n",
			[]string{`t.yaml:1: unknown key "nats.strem"`}},
		{"every one reported", "foo: 1\npoll:\n  bar: 2\n",
			[]string{`t.yaml:1: unknown key "foo"`, `t.yaml:3: unknown key "poll.bar"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "t.yaml", testEnv(credsEnv()))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "did you mean") && tc.name == "nothing close" {
				t.Errorf("suggested a far-off key: %q", err)
			}
		})
	}
}

func TestUnknownKeySecretNotEchoed(t *testing.T) {
	_, err := Parse([]byte("slack:\n  webhok_url: https://hooks.example/PLANTED-HOOK\n"), "t.yaml", testEnv(credsEnv()))
	if err == nil || strings.Contains(err.Error(), "PLANTED") {
		t.Fatalf("error = %v; want an error without the value", err)
	}
}

func TestYAMLErrorsNameLineAndKey(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"duration without unit", "dcs:\n  timeout: 10\n",
			[]string{"t.yaml:2: dcs.timeout:", "time.Duration", `e.g. "30s"`}},
		{"bad duration", "nats:\n  max_age: 30 days\n",
			[]string{"t.yaml:2: nats.max_age:", "time.Duration"}},
		{"string for int", "dcs:\n  concurrency: many\n",
			[]string{"t.yaml:2: dcs.concurrency:", "into int"}},
		{"scalar for list", "poll:\n  task_ids: abc\n",
			[]string{"t.yaml:2: poll.task_ids:", "into []string"}},
		{"list element", "poll:\n  task_ids:\n    - a\n    - [b]\n",
			[]string{"t.yaml:4: poll.task_ids[1]:"}},
		{"list for section", "slack: [a]\n",
			[]string{"t.yaml:1: slack:"}},
		{"siblings on one line", "nats: {replicas: x, stream: S}\n",
			[]string{"t.yaml:1: cannot unmarshal !!str `x` into int"}},
		{"syntax error", "log:\n  level: info\n   format: json\n",
			[]string{"t.yaml:3:"}},
		{"duplicate key", "dcs:\n  region: a\n  region: b\n",
			[]string{"t.yaml:3:", `"region" already defined`}},
		{"two documents", "log: {level: info}\n---\nlog: {level: debug}\n",
			[]string{"t.yaml:2:", "second YAML document"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "t.yaml", testEnv(credsEnv()))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestDurationsParse(t *testing.T) {
	yaml := "dcs:\n  timeout: 1500ms\nnats:\n  duplicate_window: 2h30m\n  max_age: 0s\nslack:\n  max_retry_delay: 90s\n"
	c, err := Parse([]byte(yaml), "t.yaml", testEnv(credsEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if c.DCS.Timeout != 1500*time.Millisecond || c.NATS.DuplicateWindow != 150*time.Minute ||
		c.NATS.MaxAge != 0 || c.Slack.MaxRetryDelay != 90*time.Second {
		t.Errorf("durations = %v %v %v %v", c.DCS.Timeout, c.NATS.DuplicateWindow, c.NATS.MaxAge, c.Slack.MaxRetryDelay)
	}
}

func TestSlackPaceAndGroupingParse(t *testing.T) {
	c, err := Parse([]byte("slack:\n  rate: 0.5\n  group_min: 0\n  group_max: 250\n"), "t.yaml", testEnv(credsEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Slack.Rate != 0.5 || c.Slack.GroupMin != 0 || c.Slack.GroupMax != 250 {
		t.Errorf("slack = rate %v, group_min %d, group_max %d", c.Slack.Rate, c.Slack.GroupMin, c.Slack.GroupMax)
	}
	for yaml, want := range map[string]string{
		"slack:\n  kinds: [removed]\n  group_min: 1\n": `t.yaml:3: slack.group_min: must be 0 (grouping off) or at least 2, got 1`,
		"slack:\n  rate: 30\n":                         `t.yaml:2: slack.rate: must be above 0 and at most 10 messages per second, got 30`,
		"slack:\n  group_max: many\n":                  `t.yaml:2: slack.group_max:`,
		"slack:\n  group_mx: 5\n":                      `t.yaml:2: unknown key "slack.group_mx"`,
	} {
		if _, err := Parse([]byte(yaml), "t.yaml", testEnv(credsEnv())); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want %q", yaml, err, want)
		}
	}
}

func TestFileOverridesDefaultsKeyByKey(t *testing.T) {
	yaml := `
log:
  level: debug
poll:
  task_ids: [task-1, task-2]
  discover: false
slack:
  kinds: [removed]
`
	c, err := Parse([]byte(yaml), "t.yaml", testEnv(credsEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Level != "debug" || c.Log.Format != "auto" {
		t.Errorf("log = %+v, want level from file and format from defaults", c.Log)
	}
	if !reflect.DeepEqual(c.Poll.TaskIDs, []string{"task-1", "task-2"}) || c.Poll.Discover || c.Poll.Schedule != "@every 30s" {
		t.Errorf("poll = %+v", c.Poll)
	}
	if !reflect.DeepEqual(c.Slack.Kinds, []string{"removed"}) {
		t.Errorf("slack.kinds = %v, want the file's list replacing the default", c.Slack.Kinds)
	}
}

func TestEmptyInputsKeepDefaults(t *testing.T) {
	for name, yaml := range map[string]string{
		"empty":          "",
		"comments only":  "# nothing here\n",
		"empty sections": "log:\nslack:\ndcs:\n",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Parse([]byte(yaml), "t.yaml", testEnv(credsEnv()))
			if err != nil {
				t.Fatal(err)
			}
			want := Default()
			if c.Log != want.Log || c.Slack.Consumer != want.Slack.Consumer || c.DCS.Timeout != want.DCS.Timeout {
				t.Errorf("got %+v, want the defaults", c)
			}
		})
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	yaml := `
poll:
  discover: false
  task_ids: &ids [task-a]
log: &l
  level: warn
`
	c, err := Parse([]byte(yaml), "t.yaml", testEnv(credsEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Level != "warn" || c.Poll.TaskIDs[0] != "task-a" {
		t.Errorf("got %+v %+v", c.Log, c.Poll)
	}
	merged := "log:\n  <<: {level: error}\n  format: json\n"
	if c, err = Parse([]byte(merged), "t.yaml", testEnv(credsEnv())); err != nil {
		t.Fatalf("merge key: %v", err)
	}
	if c.Log.Level != "error" || c.Log.Format != "json" {
		t.Errorf("merge key: log = %+v", c.Log)
	}
	if _, err = Parse([]byte("log:\n  <<: {levle: error}\n"), "t.yaml", nil); err == nil || !strings.Contains(err.Error(), `unknown key "log.levle"`) {
		t.Errorf("unknown key inside a merge: err = %v", err)
	}
}

func TestEnvOverrides(t *testing.T) {
	file := `
dcs:
  project_id: file-project
  ak: FILE-AK
  sk: FILE-SK
nats:
  url: nats://file.example:4222
  token: FILE-NATS-TOKEN
`
	tests := []struct {
		env   string
		value string
		got   func(Config) string
	}{
		{EnvProjectID, "env-project", func(c Config) string { return c.DCS.ProjectID }},
		{EnvAK, "ENV-AK", func(c Config) string { return c.DCS.AK.Reveal() }},
		{EnvSK, "ENV-SK", func(c Config) string { return c.DCS.SK.Reveal() }},
		{EnvSecurityToken, "ENV-STS", func(c Config) string { return c.DCS.SecurityToken.Reveal() }},
		{EnvNATSURL, "nats://env.example:4222", func(c Config) string { return c.NATS.URL }},
		{EnvNATSToken, "ENV-NATS-TOKEN", func(c Config) string { return c.NATS.Token.Reveal() }},
		{EnvSlackWebhook, "https://hooks.example/ENV", func(c Config) string { return c.Slack.WebhookURL.Reveal() }},
		{EnvHeartbeatPingURL, "https://hc-ping.example/ENV", func(c Config) string { return c.Heartbeat.PingURL.Reveal() }},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			c, err := Parse([]byte(file), "t.yaml", testEnv(map[string]string{tc.env: "  " + tc.value + "\n"}))
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.got(c); got != tc.value {
				t.Errorf("%s: got %q, want the trimmed env value %q", tc.env, got, tc.value)
			}
		})
	}
	t.Run("bad ping URL from env", func(t *testing.T) {
		_, err := Parse([]byte(file), "t.yaml", testEnv(map[string]string{EnvHeartbeatPingURL: "ftp://hc-ping.example/PLANTED-PING"}))
		if err == nil || !strings.Contains(err.Error(), "heartbeat.ping_url") || !strings.Contains(err.Error(), EnvHeartbeatPingURL) ||
			strings.Contains(err.Error(), "PLANTED") {
			t.Errorf("err = %v, want heartbeat.ping_url named with %s, and no URL", err, EnvHeartbeatPingURL)
		}
	})
	t.Run("empty env keeps the file", func(t *testing.T) {
		c, err := Parse([]byte(file), "t.yaml", testEnv(map[string]string{EnvAK: "", EnvProjectID: ""}))
		if err != nil {
			t.Fatal(err)
		}
		if c.DCS.AK.Reveal() != "FILE-AK" || c.DCS.ProjectID != "file-project" {
			t.Errorf("got ak %q project %q, want the file's", c.DCS.AK.Reveal(), c.DCS.ProjectID)
		}
	})
	t.Run("auth token", func(t *testing.T) {
		c, err := Parse(nil, "t.yaml", testEnv(map[string]string{EnvProjectID: "p", EnvDCSAuthToken: "ENV-IAM"}))
		if err != nil {
			t.Fatal(err)
		}
		if c.DCS.AuthToken.Reveal() != "ENV-IAM" {
			t.Errorf("auth token = %q", c.DCS.AuthToken.Reveal())
		}
	})
	t.Run("nil getenv", func(t *testing.T) {
		_, err := Parse([]byte(file), "t.yaml", nil)
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestValidationErrorsAreLocated(t *testing.T) {
	yaml := "dcs:\n  project_id: p\n  ak: A\n  sk: B\npoll:\n  schedule: \"@evry 5s\"\n"
	_, err := Parse([]byte(yaml), "t.yaml", nil)
	want := `t.yaml:6: poll.schedule: invalid cron spec "@evry 5s"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want it to contain %q", err, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "poll.schedule" {
		t.Errorf("errors.As(*FieldError) = %+v", fe)
	}

	// A value set by the environment names the variable, not the file line.
	_, err = Parse([]byte(yaml), "t.yaml", testEnv(map[string]string{EnvProjectID: "bad id"}))
	want = `t.yaml: dcs.project_id: invalid project id "bad id"`
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "(value from "+EnvProjectID+")") {
		t.Errorf("error = %v, want %q and the env var", err, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "watcher.yaml")
	if err := os.WriteFile(path, []byte("log:\n  level: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, testEnv(credsEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Level != "warn" {
		t.Errorf("log.level = %q", c.Log.Level)
	}

	if err := os.WriteFile(path, []byte("slack:\n  kinds: [staus_changed]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path, testEnv(credsEnv()))
	if err == nil || !strings.Contains(err.Error(), path+`:2: slack.kinds[0]: unknown kind "staus_changed"`) {
		t.Errorf("error = %v, want it to name the file, line and key", err)
	}

	missing := filepath.Join(dir, "nope.yaml")
	_, err = Load(missing, testEnv(credsEnv()))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error = %v, want fs.ErrNotExist naming the path", err)
	}
}

// TestStatsEveryParse: poll.stats_every is 0 (every cycle) unless set, a
// duration when set, and a negative one is refused with its line and key.
func TestStatsEveryParse(t *testing.T) {
	c, err := Parse([]byte("poll:\n  discover: true\n"), "t.yaml", testEnv(credsEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Poll.StatsEvery != 0 {
		t.Errorf("poll.stats_every default = %v, want 0 (every cycle)", c.Poll.StatsEvery)
	}
	c, err = Parse([]byte("poll:\n  discover: true\n  stats_every: 2m\n"), "t.yaml", testEnv(credsEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Poll.StatsEvery != 2*time.Minute {
		t.Errorf("poll.stats_every = %v, want 2m", c.Poll.StatsEvery)
	}
	want := `t.yaml:3: poll.stats_every: must be 0 (every cycle the budget allows) or above, not -1m0s`
	if _, err := Parse([]byte("poll:\n  discover: true\n  stats_every: -1m\n"), "t.yaml", testEnv(credsEnv())); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Parse(stats_every: -1m) = %v, want %q", err, want)
	}
}
