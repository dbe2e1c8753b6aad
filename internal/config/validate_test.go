package config

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// validConfig is a valid Config whose every secret is planted, so that a test
// can check no message echoes one.
func validConfig() Config {
	c := Default()
	c.DCS.ProjectID = "0123456789abcdef0123456789abcdef"
	c.DCS.AK = "PLANTED-AK-VALUE"
	c.DCS.SK = "PLANTED-SK-VALUE"
	c.DCS.SecurityToken = "PLANTED-STS-VALUE"
	c.Slack.Enabled = true
	c.Slack.WebhookURL = "https://hooks.slack.example/services/PLANTED-HOOK"
	return c
}

// fieldErrors returns the *FieldError values joined in err.
func fieldErrors(err error) []*FieldError {
	var out []*FieldError
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return out
	}
	for _, e := range j.Unwrap() {
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, fe)
		}
	}
	return out
}

func TestValidateAcceptsValidConfig(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
	}{
		{"base", func(*Config) {}},
		{"auth token instead of AK/SK", func(c *Config) { c.DCS.AK, c.DCS.SK, c.DCS.SecurityToken, c.DCS.AuthToken = "", "", "", "PLANTED-IAM" }},
		{"no credentials, simulator on 127.0.0.1", func(c *Config) { noCreds(c); c.DCS.Endpoint = "http://127.0.0.1:8080" }},
		{"no credentials, simulator on localhost", func(c *Config) { noCreds(c); c.DCS.Endpoint = "http://localhost:9" }},
		{"no credentials, simulator on ::1", func(c *Config) { noCreds(c); c.DCS.Endpoint = "http://[::1]:9" }},
		{"auto, no credentials in the config (env or profile may hold them)", func(c *Config) { noCreds(c) }},
		{"profile source", func(c *Config) { noCreds(c); c.DCS.Credentials = CredentialsProfile; c.DCS.Profile = "prod" }},
		{"metadata source", func(c *Config) { noCreds(c); c.DCS.Credentials = CredentialsMetadata }},
		{"env source", func(c *Config) { c.DCS.Credentials = CredentialsEnv }},
		{"project id looked up", func(c *Config) { c.DCS.ProjectID = "" }},
		{"project id looked up from a local IAM for a simulator", func(c *Config) {
			c.DCS.ProjectID, c.DCS.Endpoint, c.DCS.IAMEndpoint = "", "http://127.0.0.1:1", "http://127.0.0.1:2"
		}},
		{"endpoint without region", func(c *Config) { c.DCS.Region = ""; c.DCS.Endpoint = "https://dcs.example.com" }},
		{"rate above ceiling on simulator", func(c *Config) { c.DCS.Endpoint = "http://127.0.0.1:1"; c.DCS.RateLimit = 5000 }},
		{"5-field cron", func(c *Config) { c.Poll.Schedule = "*/5 * * * *" }},
		{"descriptor", func(c *Config) { c.Poll.Schedule = "@hourly" }},
		{"task ids only", func(c *Config) { c.Poll.Discover = false; c.Poll.TaskIDs = []string{"a1b2-c3", "X-9"} }},
		{"external NATS cluster", func(c *Config) {
			c.NATS.URL = "nats://a.example:4222, tls://b.example, c.example:4222"
			c.NATS.Replicas = 3
			c.NATS.Token = "PLANTED-NATS"
			c.DataDir = ""
		}},
		{"random port", func(c *Config) { c.NATS.Listen = "127.0.0.1:0" }},
		{"max_age 0 keeps forever", func(c *Config) { c.NATS.MaxAge = 0 }},
		{"slack disabled, no webhook", func(c *Config) { c.Slack.Enabled = false; c.Slack.WebhookURL = "" }},
		{"every kind", func(c *Config) {
			c.Slack.Kinds = []string{"discovered", "status_changed", "task_status_changed", "changed", "removed", "watch_degraded", "watch_recovered"}
			c.Slack.QuietStart = false
		}},
		{"slack grouping off", func(c *Config) { c.Slack.GroupMin = 0 }},
		{"routes", withRoutes(func([]RouteConfig) {})},
		{"routes and a default route, no webhook_url", withRoutes(func([]RouteConfig) {}, "failures")},
		{"routes only", func(c *Config) { withRoutes(func([]RouteConfig) {})(c); c.Slack.WebhookURL = "" }},
		{"discovered without quiet start", func(c *Config) { c.Slack.QuietStart = false; c.Slack.Kinds = append(c.Slack.Kinds, "discovered") }},
		{"slack pace and group bounds", func(c *Config) { c.Slack.Rate, c.Slack.GroupMin, c.Slack.GroupMax = 10, 2, 1000 }},
		{"slack slow pace, pull one at a time", func(c *Config) { c.Slack.Rate, c.Slack.GroupMin, c.Slack.GroupMax = 0.1, 0, 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.modify(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

func noCreds(c *Config) { c.DCS.AK, c.DCS.SK, c.DCS.SecurityToken = "", "", "" }

func TestValidateReportsKeyPath(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		key    string // FieldError.Key
		want   string // substring of the message
	}{
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, "log.level", `unknown level "verbose"`},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format", `unknown format "xml"`},
		{"data dir", func(c *Config) { c.DataDir = "" }, "data_dir", "required"},

		{"endpoint scheme", func(c *Config) { c.DCS.Endpoint = "ftp://dcs.example" }, "dcs.endpoint", `invalid URL "ftp://dcs.example"`},
		{"endpoint no host", func(c *Config) { c.DCS.Endpoint = "https://" }, "dcs.endpoint", "invalid URL"},
		{"endpoint credentials", func(c *Config) { c.DCS.Endpoint = "https://me:PLANTED-PW@dcs.example" }, "dcs.endpoint", "must not carry credentials"},
		{"region missing", func(c *Config) { c.DCS.Region = "" }, "dcs.region", "required unless dcs.endpoint is set"},
		{"region invalid", func(c *Config) { c.DCS.Region = "cn north/4" }, "dcs.region", `invalid region "cn north/4"`},
		{"project and region missing", func(c *Config) { c.DCS.ProjectID = ""; c.DCS.Region = ""; c.DCS.Endpoint = "https://dcs.example" },
			"dcs.project_id", "required unless dcs.region is set, to look it up in IAM (or set HUAWEICLOUD_SDK_PROJECT_ID, or list dcs.projects)"},
		{"project missing, simulator", func(c *Config) { c.DCS.ProjectID = ""; c.DCS.Endpoint = "http://127.0.0.1:1" }, "dcs.project_id", "required with a local simulator"},
		{"project missing, bad IAM", func(c *Config) { c.DCS.ProjectID = ""; c.DCS.IAMEndpoint = "iam" }, "dcs.iam_endpoint", `invalid URL "iam"`},
		{"project invalid", func(c *Config) { c.DCS.ProjectID = "a/b" }, "dcs.project_id", `invalid project id "a/b"`},
		{"sk missing", func(c *Config) { c.DCS.SK = "" }, "dcs.sk", "required when dcs.ak is set"},
		{"ak missing", func(c *Config) { c.DCS.AK = "" }, "dcs.ak", "required when dcs.sk is set"},
		{"no credentials", func(c *Config) { noCreds(c); c.DCS.Credentials = CredentialsConfig }, "dcs.ak",
			"required: set dcs.ak and dcs.sk (or HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK), or dcs.auth_token"},
		{"no credentials, https loopback", func(c *Config) {
			noCreds(c)
			c.DCS.Credentials = CredentialsConfig
			c.DCS.Endpoint = "https://127.0.0.1:8443"
		}, "dcs.ak", "required: set dcs.ak"},
		{"no credentials, remote http", func(c *Config) {
			noCreds(c)
			c.DCS.Credentials = CredentialsConfig
			c.DCS.Endpoint = "http://dcs.example"
		}, "dcs.ak", "required: set dcs.ak"},
		{"credentials source unknown", func(c *Config) { c.DCS.Credentials = "vault" }, "dcs.credentials", `unknown source "vault"`},
		{"profile source with ak", func(c *Config) { c.DCS.Credentials = CredentialsProfile }, "dcs.credentials", "is profile, which does not use dcs.ak"},
		{"metadata source with token", func(c *Config) { noCreds(c); c.DCS.AuthToken = "PLANTED-IAM"; c.DCS.Credentials = CredentialsMetadata },
			"dcs.credentials", "is metadata, which does not use"},
		{"profile name empty", func(c *Config) { noCreds(c); c.DCS.Credentials = CredentialsProfile; c.DCS.Profile = "" }, "dcs.profile", "required with dcs.credentials: profile"},
		{"metadata endpoint", func(c *Config) {
			noCreds(c)
			c.DCS.Credentials = CredentialsMetadata
			c.DCS.MetadataEndpoint = "169.254.169.254"
		},
			"dcs.metadata_endpoint", "invalid URL"},
		{"token and AK/SK", func(c *Config) { c.DCS.AuthToken = "PLANTED-IAM" }, "dcs.auth_token", "not both"},
		{"security token alone", func(c *Config) { noCreds(c); c.DCS.AuthToken = "PLANTED-IAM"; c.DCS.SecurityToken = "PLANTED-STS" },
			"dcs.security_token", "needs dcs.ak and dcs.sk"},
		{"timeout", func(c *Config) { c.DCS.Timeout = 0 }, "dcs.timeout", "must be positive"},
		{"max body", func(c *Config) { c.DCS.MaxBodyBytes = -1 }, "dcs.max_body_bytes", "must be positive"},
		{"concurrency low", func(c *Config) { c.DCS.Concurrency = 0 }, "dcs.concurrency", "between 1 and 64, got 0"},
		{"concurrency high", func(c *Config) { c.DCS.Concurrency = 65 }, "dcs.concurrency", "between 1 and 64, got 65"},
		{"rate zero", func(c *Config) { c.DCS.RateLimit = 0 }, "dcs.rate_limit", "must be a positive number"},
		{"rate NaN", func(c *Config) { c.DCS.RateLimit = math.NaN() }, "dcs.rate_limit", "must be a positive number"},
		{"rate infinite", func(c *Config) { c.DCS.Endpoint = "http://127.0.0.1:1"; c.DCS.RateLimit = math.Inf(1) }, "dcs.rate_limit", "must be a positive number"},
		{"rate above ceiling", func(c *Config) { c.DCS.RateLimit = 201 }, "dcs.rate_limit", "ceiling of 200"},

		{"cron typo", func(c *Config) { c.Poll.Schedule = "@evry 5s" }, "poll.schedule", `invalid cron spec "@evry 5s": `},
		{"cron six fields", func(c *Config) { c.Poll.Schedule = "0 */5 * * * *" }, "poll.schedule", "invalid cron spec"},
		{"cron empty", func(c *Config) { c.Poll.Schedule = " " }, "poll.schedule", "required"},
		{"cron sub-second", func(c *Config) { c.Poll.Schedule = "@every 500ms" }, "poll.schedule", "whole seconds, at least 1s"},
		{"cron fractional", func(c *Config) { c.Poll.Schedule = "@every 1.5s" }, "poll.schedule", "whole seconds"},
		{"task id", func(c *Config) { c.Poll.TaskIDs = []string{"ok-1", "a b"} }, "poll.task_ids[1]", `invalid task id "a b"`},
		{"task id empty", func(c *Config) { c.Poll.TaskIDs = []string{""} }, "poll.task_ids[0]", `invalid task id ""`},
		{"task id duplicate", func(c *Config) { c.Poll.TaskIDs = []string{"t1", "t2", "t1"} }, "poll.task_ids[2]", `duplicate task id "t1" (also poll.task_ids[0])`},
		{"nothing to watch", func(c *Config) { c.Poll.Discover = false; c.Poll.TaskIDs = nil }, "poll", "nothing to watch: set poll.task_ids or poll.discover"},
		{"name filter without discovery", func(c *Config) { c.Poll.Discover = false; c.Poll.TaskIDs = []string{"t"}; c.Poll.NameFilter = "x" },
			"poll.name_filter", "only used with poll.discover"},

		{"nats url scheme", func(c *Config) { c.NATS.URL = "http://nats.example" }, "nats.url", `invalid server URL "http://nats.example"`},
		{"nats url credentials", func(c *Config) { c.NATS.URL = "nats://a.example, nats://me:PLANTED-PW@b.example" }, "nats.url", "server 2 must not carry credentials"},
		{"listen", func(c *Config) { c.NATS.Listen = "localhost" }, "nats.listen", `invalid address "localhost"`},
		{"listen port", func(c *Config) { c.NATS.Listen = "127.0.0.1:70000" }, "nats.listen", "invalid address"},
		{"creds file embedded", func(c *Config) { c.NATS.CredsFile = "x.creds" }, "nats.creds_file", "only used with nats.url"},
		{"token embedded", func(c *Config) { c.NATS.Token = "PLANTED-NATS" }, "nats.token", "only used with nats.url"},
		{"token and creds", func(c *Config) {
			c.NATS.URL = "nats://n.example"
			c.NATS.CredsFile = "x.creds"
			c.NATS.Token = "PLANTED-NATS"
		},
			"nats.token", "not both"},
		{"subject wildcard", func(c *Config) { c.NATS.SubjectPrefix = "dcs.*" }, "nats.subject_prefix", `invalid subject prefix "dcs.*"`},
		{"subject tail wildcard", func(c *Config) { c.NATS.SubjectPrefix = "dcs.>" }, "nats.subject_prefix", "invalid subject prefix"},
		{"subject empty token", func(c *Config) { c.NATS.SubjectPrefix = "dcs..migration" }, "nats.subject_prefix", "invalid subject prefix"},
		{"subject space", func(c *Config) { c.NATS.SubjectPrefix = "dcs migration" }, "nats.subject_prefix", "invalid subject prefix"},
		{"subject empty", func(c *Config) { c.NATS.SubjectPrefix = "" }, "nats.subject_prefix", "required"},
		{"stream", func(c *Config) { c.NATS.Stream = "DCS.MIGRATION" }, "nats.stream", `invalid name "DCS.MIGRATION"`},
		{"kv bucket", func(c *Config) { c.NATS.KVBucket = "" }, "nats.kv_bucket", "required"},
		{"duplicate window", func(c *Config) { c.NATS.DuplicateWindow = 0 }, "nats.duplicate_window", "must be positive"},
		{"duplicate window over max age", func(c *Config) { c.NATS.MaxAge = time.Hour }, "nats.duplicate_window", "exceeds nats.max_age"},
		{"max age negative", func(c *Config) { c.NATS.MaxAge = -time.Second }, "nats.max_age", "must not be negative"},
		{"replicas low", func(c *Config) { c.NATS.Replicas = 0 }, "nats.replicas", "between 1 and 5, got 0"},
		{"replicas high", func(c *Config) { c.NATS.URL = "nats://n.example"; c.NATS.Replicas = 6 }, "nats.replicas", "between 1 and 5, got 6"},
		{"replicas embedded", func(c *Config) { c.NATS.Replicas = 3 }, "nats.replicas", "must be 1 with the embedded server"},

		{"webhook missing", func(c *Config) { c.Slack.WebhookURL = "" }, "slack.webhook_url", "required when slack.enabled is true"},
		{"webhook not a URL", func(c *Config) { c.Slack.WebhookURL = "PLANTED-HOOK not a url" }, "slack.webhook_url", "not an http(s) URL"},
		{"webhook bad scheme", func(c *Config) { c.Slack.WebhookURL = "ftp://hooks.example/PLANTED-HOOK" }, "slack.webhook_url", "not an http(s) URL"},
		{"webhook unparsable", func(c *Config) { c.Slack.WebhookURL = "https://hooks example/%zzPLANTED" }, "slack.webhook_url", "not an http(s) URL"},
		{"kind typo", func(c *Config) { c.Slack.Kinds = []string{"removed", "changed", "staus_changed"} }, "slack.kinds[2]", `unknown kind "staus_changed"`},
		{"no kinds", func(c *Config) { c.Slack.Kinds = nil }, "slack.kinds", "nothing would be posted"},
		{"consumer", func(c *Config) { c.Slack.Consumer = "watcher slack" }, "slack.consumer", `invalid name "watcher slack"`},
		{"marks bucket", func(c *Config) { c.Slack.MarksBucket = "a/b" }, "slack.marks_bucket", `invalid name "a/b"`},
		{"marks bucket shared", func(c *Config) { c.Slack.MarksBucket = c.NATS.KVBucket }, "slack.marks_bucket", "must differ from nats.kv_bucket"},
		{"retry delay", func(c *Config) { c.Slack.MaxRetryDelay = 0 }, "slack.max_retry_delay", "must be at least slack.min_retry_delay"},
		{"min retry delay", func(c *Config) { c.Slack.MinRetryDelay = 0 }, "slack.min_retry_delay", "must be positive"},
		{"slack timeout", func(c *Config) { c.Slack.Timeout = 0 }, "slack.timeout", "must be positive"},
		{"slack dead retry", func(c *Config) { c.Slack.DeadRetry = -time.Second }, "slack.dead_retry", "must be positive, got -1s"},
		{"slack rate zero", func(c *Config) { c.Slack.Rate = 0 }, "slack.rate", "above 0 and at most 10 messages per second, got 0"},
		{"slack rate high", func(c *Config) { c.Slack.Rate = 10.5 }, "slack.rate", "got 10.5"},
		{"slack rate NaN", func(c *Config) { c.Slack.Rate = math.NaN() }, "slack.rate", "got NaN"},
		{"slack rate Inf", func(c *Config) { c.Slack.Rate = math.Inf(1) }, "slack.rate", "got +Inf"},
		{"slack group min one", func(c *Config) { c.Slack.GroupMin = 1 }, "slack.group_min", "0 (grouping off) or at least 2, got 1"},
		{"slack group min negative", func(c *Config) { c.Slack.GroupMin = -3 }, "slack.group_min", "got -3"},
		{"slack group min above max", func(c *Config) { c.Slack.GroupMin, c.Slack.GroupMax = 20, 10 }, "slack.group_min", "20 exceeds slack.group_max 10"},
		{"slack group max zero", func(c *Config) { c.Slack.GroupMax = 0 }, "slack.group_max", "between 1 and 1000, got 0"},
		{"slack group max high", func(c *Config) { c.Slack.GroupMax = 1001 }, "slack.group_max", "got 1001"},
		{"degraded for negative", func(c *Config) { c.Slack.DegradedFor = -time.Second }, "slack.degraded_for", "got -1s"},
		{"remind every negative", func(c *Config) { c.Slack.RemindEvery = -time.Minute }, "slack.remind_every", "got -1m0s"},
		{"remind every too often", func(c *Config) { c.Slack.RemindEvery = time.Second }, "slack.remind_every", "between 1m and 168h, got 1s"},
		{"remind every beyond a week", func(c *Config) { c.Slack.RemindEvery = 200 * time.Hour }, "slack.remind_every", "got 200h0m0s"},
		{"discovered under quiet start", func(c *Config) {
			c.Slack.Kinds = []string{"status_changed", "removed", "watch_degraded", "watch_recovered", "discovered"}
		}, "slack.kinds[4]", "governed by slack.quiet_start"},
		{"route name missing", withRoutes(func(r []RouteConfig) { r[1].Name = "" }), "slack.routes[1].name", "required"},
		{"route name invalid", withRoutes(func(r []RouteConfig) { r[1].Name = "db oncall" }), "slack.routes[1].name", `invalid name "db oncall"`},
		{"route name twice", withRoutes(func(r []RouteConfig) { r[2].Name = "db" }), "slack.routes[2].name", `duplicate route name "db" (also slack.routes[0])`},
		{"route webhook not a URL", withRoutes(func(r []RouteConfig) { r[0].WebhookURL = "PLANTED-HOOK" }), "slack.routes[0].webhook_url", "not an http(s) URL"},
		{"route without destination", withRoutes(func(r []RouteConfig) { r[0].WebhookURL = "" }), "slack.routes[0].webhook_url", "required"},
		{"route channel needs bot mode", withRoutes(func(r []RouteConfig) { r[0].WebhookURL, r[0].Channel = "", "#db-oncall" }), "slack.routes[0].channel", "needs the bot-token mode"},
		{"route channel invalid", withRoutes(func(r []RouteConfig) { r[0].Channel = "db oncall" }), "slack.routes[0].channel", `invalid channel "db oncall"`},
		{"route webhook and channel", withRoutes(func(r []RouteConfig) { r[0].Channel = "C0ONCALL" }), "slack.routes[0].channel", "not both"},
		{"channel needs bot token", func(c *Config) { c.Slack.Channel = "C0ONCALL" }, "slack.channel", "needs the bot-token mode"},
		{"channel and webhook", func(c *Config) {
			c.Slack.Channel, c.Slack.BotToken, c.Slack.WebhookURL = "C0ONCALL", "xoxb-PLANTED", "https://hooks.example/x"
		}, "slack.channel", "not both"},
		{"cards bucket is the marks bucket", func(c *Config) {
			c.Slack.Channel, c.Slack.BotToken, c.Slack.CardsBucket, c.Slack.WebhookURL = "C0ONCALL", "xoxb-PLANTED", c.Slack.MarksBucket, ""
		}, "slack.cards_bucket", "must differ"},
		{"route mention", withRoutes(func(r []RouteConfig) { r[0].Mentions = []string{"U0123", "@everyone"} }), "slack.routes[0].mentions[1]", `invalid mention "@everyone"`},
		{"route project glob", withRoutes(func(r []RouteConfig) { r[1].Match.Project = "[ab" }), "slack.routes[1].match.project", `invalid glob "[ab"`},
		{"route task name glob", withRoutes(func(r []RouteConfig) { r[1].Match.TaskName = "orders-[" }), "slack.routes[1].match.task_name", `invalid glob "orders-["`},
		{"route kind unknown", withRoutes(func(r []RouteConfig) { r[1].Match.Kinds = []string{"removed", "stauts_changed"} }), "slack.routes[1].match.kinds[1]", `unknown kind "stauts_changed"`},
		{"route kind heartbeat", withRoutes(func(r []RouteConfig) { r[1].Match.Kinds = []string{"heartbeat"} }), "slack.routes[1].match.kinds[0]", `kind "heartbeat" is the watcher's own liveness event`},
		{"slack kind heartbeat", func(c *Config) { c.Slack.Kinds = []string{"status_changed", "heartbeat"} }, "slack.kinds[1]", "never posted to Slack"},
		{"heartbeat every negative", func(c *Config) { c.Heartbeat.Every = -time.Second }, "heartbeat.every", "want 0s (off) or at least 1s"},
		{"heartbeat every too often", func(c *Config) { c.Heartbeat.Every = 500 * time.Millisecond }, "heartbeat.every", "500ms: want 0s (off) or at least 1s"},
		{"heartbeat ping timeout", func(c *Config) { c.Heartbeat.PingTimeout = 0 }, "heartbeat.ping_timeout", "want a positive duration"},
		{"ping url scheme", func(c *Config) { c.Heartbeat.PingURL = "ftp://hc-ping.example/PLANTED-PING" }, "heartbeat.ping_url", "scheme must be http or https"},
		{"ping url unparsable", func(c *Config) { c.Heartbeat.PingURL = "https://hc ping.example/%zzPLANTED" }, "heartbeat.ping_url", "not a valid URL"},
		{"ping url no host", func(c *Config) { c.Heartbeat.PingURL = "https:///PLANTED-PING" }, "heartbeat.ping_url", "has no host"},
		{"ping url bare token", func(c *Config) { c.Heartbeat.PingURL = "PLANTED-PING" }, "heartbeat.ping_url", "scheme must be http or https"},
		{"route kind never posts", withRoutes(func(r []RouteConfig) { r[1].Match.Kinds = []string{"changed"} }), "slack.routes[1].match.kinds[0]", `"changed" is not in slack.kinds`},
		{"route status", withRoutes(func(r []RouteConfig) { r[2].Match.Status = []string{"FAILED", "FAILD"} }), "slack.routes[2].match.status[1]", `unknown status "FAILD"`},
		{"route outcome", withRoutes(func(r []RouteConfig) { r[2].Match.Outcome = []string{"failure"} }), "slack.routes[2].match.outcome[0]", `unknown outcome "failure"`},
		{"route severity", withRoutes(func(r []RouteConfig) { r[2].Match.Severity = []string{"high"} }), "slack.routes[2].match.severity[0]", `unknown severity "high"`},
		{"default route unknown", withRoutes(func([]RouteConfig) {}, "nope"), "slack.default_route", `"nope" is not the name of a route`},
		{"projects beside project_id", withProjects(func(c *Config) { c.DCS.ProjectID = "p0" }), "dcs.project_id", "set either dcs.project_id (or HUAWEICLOUD_SDK_PROJECT_ID) or dcs.projects"},
		{"projects beside poll.task_ids", withProjects(func(c *Config) { c.Poll.TaskIDs = []string{"t1"} }), "poll.task_ids", "list it in that project's task_ids"},
		{"project id missing", withProjects(func(c *Config) { c.DCS.Projects[1].ProjectID = "" }), "dcs.projects[1].project_id", "required"},
		{"project id invalid", withProjects(func(c *Config) { c.DCS.Projects[1].ProjectID = "p/1" }), "dcs.projects[1].project_id", `invalid project id "p/1"`},
		{"project id twice", withProjects(func(c *Config) { c.DCS.Projects[1].ProjectID = "pa" }), "dcs.projects[1].project_id", `duplicate project id "pa" (also dcs.projects[0])`},
		{"project name twice", withProjects(func(c *Config) { c.DCS.Projects[1].Name = "pa" }), "dcs.projects[1].name", `duplicate name "pa" (also dcs.projects[0])`},
		{"project name invalid", withProjects(func(c *Config) { c.DCS.Projects[0].Name = "prod eu" }), "dcs.projects[0].name", `invalid name "prod eu"`},
		{"project region invalid", withProjects(func(c *Config) { c.DCS.Projects[1].Region = "eu west" }), "dcs.projects[1].region", `invalid region "eu west"`},
		{"project region missing", withProjects(func(c *Config) { c.DCS.Region = "" }), "dcs.projects[0].region", "required unless"},
		{"project endpoint", withProjects(func(c *Config) { c.DCS.Projects[1].Endpoint = "https://u:PLANTED@dcs.example" }), "dcs.projects[1].endpoint", "must not carry credentials"},
		{"project task id twice", withProjects(func(c *Config) { c.DCS.Projects[1].TaskIDs = []string{"t1", "t1"} }), "dcs.projects[1].task_ids[1]", `duplicate task id "t1" (also dcs.projects[1].task_ids[0])`},
		{"project nothing to watch", withProjects(func(c *Config) { c.DCS.Projects[0].Discover = new(bool) }), "dcs.projects[0]", "nothing to watch"},
		{"project filter without discover", withProjects(func(c *Config) {
			c.DCS.Projects[0].Discover, c.DCS.Projects[0].TaskIDs, c.DCS.Projects[0].NameFilter = new(bool), []string{"t1"}, "orders-"
		}), "dcs.projects[0].name_filter", "only used with discover: true"},
		{"project rate negative", withProjects(func(c *Config) { c.DCS.Projects[1].RateLimit = -1 }), "dcs.projects[1].rate_limit", "must be 0"},
		{"project rate above account", withProjects(func(c *Config) { c.DCS.Projects[1].RateLimit = 25 }), "dcs.projects[1].rate_limit", "25 exceeds dcs.rate_limit 20"},
		{"default route and webhook", func(c *Config) { withRoutes(func([]RouteConfig) {})(c); c.Slack.DefaultRoute = "db" }, "slack.default_route", "not both"},
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
			var keys []string
			for _, fe := range fieldErrors(err) {
				keys = append(keys, fe.Key)
			}
			if len(keys) != 1 || keys[0] != tc.key {
				t.Errorf("problems at %v, want exactly one, at %s", keys, tc.key)
			}
			if strings.Contains(err.Error(), "PLANTED") {
				t.Errorf("error text holds a secret: %q", err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := validConfig()
	c.Log.Level = "loud"
	c.Poll.Schedule = "@evry 5s"
	c.Slack.Kinds = []string{"nope"}
	c.NATS.Replicas = 0
	got := fieldErrors(c.Validate())
	if len(got) != 4 {
		t.Fatalf("got %d problems %v, want 4", len(got), got)
	}
}

// withRoutes gives validConfig three valid routes, lets edit spoil them,
// and with a default route drops slack.webhook_url for it.
func withRoutes(edit func([]RouteConfig), defaultRoute ...string) func(*Config) {
	return func(c *Config) {
		r := []RouteConfig{
			{Name: "db", WebhookURL: "https://hooks.example/services/PLANTED-1", Mentions: []string{"S0123ABCD", "@here"},
				Match: MatchConfig{TaskName: "orders-*", Outcome: []string{"failed"}}, Continue: true},
			{Name: "staging", WebhookURL: "https://hooks.example/services/PLANTED-2", Match: MatchConfig{Project: "0a1b*", Kinds: []string{"status_changed"}}},
			{Name: "failures", WebhookURL: "https://hooks.example/services/PLANTED-3",
				Match: MatchConfig{Status: []string{"migration_failed"}, Severity: []string{"critical"}}},
		}
		edit(r)
		c.Slack.Routes = r
		if len(defaultRoute) > 0 {
			c.Slack.DefaultRoute, c.Slack.WebhookURL = defaultRoute[0], ""
		}
	}
}

// withProjects replaces validConfig's project with two valid entries of
// dcs.projects, then lets edit spoil them.
func withProjects(edit func(*Config)) func(*Config) {
	return func(c *Config) {
		c.DCS.ProjectID = ""
		c.DCS.Projects = []ProjectConfig{
			{Name: "pa", ProjectID: "pa", RateLimit: 5},
			{Name: "eu", Region: "eu-west-101", ProjectID: "pb", NameFilter: "orders-"},
		}
		edit(c)
	}
}
