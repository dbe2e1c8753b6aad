package config

import (
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/secret"
)

// testEnv returns a getenv that reads only m.
func testEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// credsEnv is the least environment under which the defaults are valid.
func credsEnv() map[string]string {
	return map[string]string{
		EnvProjectID: "0123456789abcdef0123456789abcdef",
		EnvAK:        "PLANTED-AK-VALUE",
		EnvSK:        "PLANTED-SK-VALUE",
	}
}

func TestDefaultValues(t *testing.T) {
	c := Default()
	checks := []struct {
		key       string
		got, want any
	}{
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "auto"},
		{"data_dir", c.DataDir, "./data"},
		{"dcs.region", c.DCS.Region, "cn-north-4"},
		{"dcs.timeout", c.DCS.Timeout, 10 * time.Second},
		{"dcs.max_body_bytes", c.DCS.MaxBodyBytes, int64(4194304)},
		{"dcs.concurrency", c.DCS.Concurrency, 8},
		{"dcs.rate_limit", c.DCS.RateLimit, 20.0},
		{"poll.schedule", c.Poll.Schedule, "@every 30s"},
		{"poll.discover", c.Poll.Discover, true},
		{"nats.url", c.NATS.URL, ""},
		{"nats.listen", c.NATS.Listen, "127.0.0.1:4222"},
		{"nats.subject_prefix", c.NATS.SubjectPrefix, "dcs.migration"},
		{"nats.stream", c.NATS.Stream, "DCS_MIGRATION"},
		{"nats.duplicate_window", c.NATS.DuplicateWindow, 24 * time.Hour},
		{"nats.max_age", c.NATS.MaxAge, 720 * time.Hour},
		{"nats.replicas", c.NATS.Replicas, 1},
		{"nats.kv_bucket", c.NATS.KVBucket, "dcs_watcher_snapshots"},
		{"slack.enabled", c.Slack.Enabled, false},
		{"slack.kinds", c.Slack.Kinds, []string{"status_changed", "removed", "watch_degraded", "watch_recovered", "stalled", "resumed"}},
		{"slack.consumer", c.Slack.Consumer, "watcher-slack"},
		{"slack.marks_bucket", c.Slack.MarksBucket, "dcs_watcher_slack"},
		{"slack.max_retry_delay", c.Slack.MaxRetryDelay, 5 * time.Minute},
		{"slack.dead_retry", c.Slack.DeadRetry, 5 * time.Minute},
		{"slack.rate", c.Slack.Rate, 1.0},
		{"slack.group_min", c.Slack.GroupMin, 3},
		{"slack.group_max", c.Slack.GroupMax, 100},
	}
	for _, tc := range checks {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.key, tc.got, tc.want)
		}
	}
}

func TestDefaultReturnsFreshSlices(t *testing.T) {
	a := Default()
	a.Slack.Kinds[0] = "changed"
	if b := Default(); b.Slack.Kinds[0] != "status_changed" {
		t.Fatalf("changing one Default() changed the next: kinds = %v", b.Slack.Kinds)
	}
}

// The defaults lack only what no default can give: a project and credentials.
func TestDefaultNeedsOnlyProjectAndCredentials(t *testing.T) {
	c, err := Parse(nil, "empty.yaml", testEnv(credsEnv()))
	if err != nil {
		t.Fatalf("defaults with credentials from env: %v", err)
	}
	if c.DCS.ProjectID != credsEnv()[EnvProjectID] {
		t.Errorf("project id = %q, want the env value", c.DCS.ProjectID)
	}
}

func TestShippedConfigEqualsDefaults(t *testing.T) {
	const path = "../../configs/watcher.yaml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(data, path, testEnv(credsEnv()))
	if err != nil {
		t.Fatalf("shipped config does not parse: %v", err)
	}
	want := Default()
	want.DCS.ProjectID = credsEnv()[EnvProjectID]
	want.DCS.AK = secret.Secret(credsEnv()[EnvAK])
	want.DCS.SK = secret.Secret(credsEnv()[EnvSK])
	if !reflect.DeepEqual(got, want) {
		t.Errorf("shipped config differs from Default():\n got %+v\nwant %+v", got, want)
	}
}

// Every key of Config must be written in the shipped file, so that it
// documents them all.
func TestShippedConfigNamesEveryKey(t *testing.T) {
	data, err := os.ReadFile("../../configs/watcher.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, idx, err := decodeForTest(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range allKeys(reflect.TypeOf(Config{}), "") {
		if idx.lines[key] == 0 {
			t.Errorf("configs/watcher.yaml does not write key %s", key)
		}
	}
}

func decodeForTest(data []byte) (Config, *keyIndex, error) {
	c := Default()
	idx, err := decode(data, "t.yaml", &c)
	return c, idx, err
}

func allKeys(t reflect.Type, parent string) []string {
	var keys []string
	for key, ft := range yamlFields(t) {
		p := joinPath(parent, key)
		keys = append(keys, p)
		if ft.Kind() == reflect.Struct {
			keys = append(keys, allKeys(ft, p)...)
		}
	}
	return keys
}
