package config

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Limits checked by Validate.
const (
	maxConcurrency = 64
	maxReplicas    = 5
	// apiRateCeiling is the DCS API's documented limit per account, in calls
	// per second; a client-side rate above it only earns throttling errors.
	apiRateCeiling = 200
)

// Validate checks the whole configuration and returns every problem found,
// joined with errors.Join (each a *FieldError), or nil.
func (c Config) Validate() error {
	var p problems
	c.validateLog(&p)
	if c.DataDir == "" && c.NATS.URL == "" {
		p.add("data_dir", "required: the embedded NATS server keeps its streams there")
	}
	c.validateMemory(&p)
	c.validateDCS(&p)
	c.validatePoll(&p)
	c.validateNATS(&p)
	c.validateSlack(&p)
	c.validateHTTP(&p)
	c.validateAttention(&p)
	c.validateHeartbeat(&p)
	return errors.Join(p...)
}

func (c Config) validateLog(p *problems) {
	if !oneOf(c.Log.Level, "debug", "info", "warn", "error") {
		p.add("log.level", "unknown level %q (want debug, info, warn or error)", c.Log.Level)
	}
	if !oneOf(c.Log.Format, "auto", "json", "console") {
		p.add("log.format", "unknown format %q (want auto, json or console)", c.Log.Format)
	}
}

func (c Config) validateDCS(p *problems) {
	d := c.DCS
	if d.Endpoint != "" {
		checkHTTPURL(p, "dcs.endpoint", d.Endpoint)
	}
	switch {
	case d.Region == "" && d.Endpoint == "" && len(d.Projects) == 0:
		// With dcs.projects, a project that needs the default says so.
		p.add("dcs.region", "required unless dcs.endpoint is set (e.g. cn-north-4)")
	case d.Region != "" && !isToken(d.Region, false):
		p.add("dcs.region", "invalid region %q (want e.g. cn-north-4)", d.Region)
	}
	switch {
	case len(d.Projects) > 0:
		c.validateProjects(p)
	case d.ProjectID == "" && d.Region == "":
		p.add("dcs.project_id", "required unless dcs.region is set, to look it up in IAM (or set %s, or list dcs.projects)", EnvProjectID)
	case d.ProjectID == "" && d.LocalSimulator() && !isLocalSimulator(d.IAMEndpoint):
		// The lookup would sign a call to the real IAM for a simulator.
		p.add("dcs.project_id", "required with a local simulator as dcs.endpoint (or set %s)", EnvProjectID)
	case d.ProjectID != "" && !isToken(d.ProjectID, true):
		p.add("dcs.project_id", "invalid project id %q (letters, digits, - and _ only: it goes into URL paths and NATS subjects)", d.ProjectID)
	}
	if d.ProjectID == "" && len(d.Projects) == 0 {
		checkHTTPURL(p, "dcs.iam_endpoint", d.IAMEndpoint)
	}
	c.validateCredentials(p)
	if d.Timeout <= 0 {
		p.add("dcs.timeout", "must be positive, got %s", d.Timeout)
	}
	if d.MaxBodyBytes <= 0 {
		p.add("dcs.max_body_bytes", "must be positive, got %d", d.MaxBodyBytes)
	}
	if d.Concurrency < 1 || d.Concurrency > maxConcurrency {
		p.add("dcs.concurrency", "must be between 1 and %d, got %d", maxConcurrency, d.Concurrency)
	}
	switch {
	case !(d.RateLimit > 0) || math.IsInf(d.RateLimit, 0):
		p.add("dcs.rate_limit", "must be a positive number of calls per second, got %v", d.RateLimit)
	case d.RateLimit > apiRateCeiling && !c.LocalOnly():
		// A local simulator has no such ceiling, and benchmarks need to exceed it.
		p.add("dcs.rate_limit", "%v exceeds the API's documented ceiling of %d calls per second per account", d.RateLimit, apiRateCeiling)
	}
}

// validateCredentials checks the source of credentials and names the
// missing half of a credential pair. Messages name keys and environment
// variables only, never a value. Under auto, no credentials in the config is
// not an error here: the environment or a profile file may hold them, which
// the start finds out (dcs.ResolveCredentials).
func (c Config) validateCredentials(p *problems) {
	d := c.DCS
	ak, sk, token := d.AK != "", d.SK != "", d.AuthToken != ""
	switch {
	case ak && !sk:
		p.add("dcs.sk", "required when dcs.ak is set (or set %s)", EnvSK)
	case sk && !ak:
		p.add("dcs.ak", "required when dcs.sk is set (or set %s)", EnvAK)
	case !ak && !sk && !token && d.Credentials == CredentialsConfig && !c.LocalOnly():
		// The real API refuses unsigned calls, so starting without credentials
		// would only fail later, once per task and cycle. A plain-HTTP loopback
		// endpoint is a local simulator (demo, tests), which may not check auth.
		p.add("dcs.ak", "required: set dcs.ak and dcs.sk (or %s/%s), or dcs.auth_token (or %s)", EnvAK, EnvSK, EnvDCSAuthToken)
	}
	if token && (ak || sk) {
		p.add("dcs.auth_token", "set either dcs.auth_token or dcs.ak/dcs.sk, not both")
	}
	if d.SecurityToken != "" && !ak && !sk {
		p.add("dcs.security_token", "needs dcs.ak and dcs.sk: it completes temporary AK/SK credentials")
	}
	switch d.Credentials {
	case CredentialsAuto, CredentialsConfig, CredentialsEnv:
	case CredentialsProfile, CredentialsMetadata:
		// These sources read neither key: one set would be silently unused.
		if ak || token {
			p.add("dcs.credentials", "is %s, which does not use dcs.ak/dcs.sk or dcs.auth_token (nor %s/%s): remove them or choose auto", d.Credentials, EnvAK, EnvSK)
		}
	default:
		p.add("dcs.credentials", "unknown source %q (want auto, config, env, profile or metadata)", d.Credentials)
	}
	if d.Credentials == CredentialsProfile && d.Profile == "" {
		p.add("dcs.profile", "required with dcs.credentials: profile (e.g. default)")
	}
	if d.Credentials == CredentialsMetadata {
		checkHTTPURL(p, "dcs.metadata_endpoint", d.MetadataEndpoint)
	}
}

func (c Config) validatePoll(p *problems) {
	checkSchedule(p, "poll.schedule", c.Poll.Schedule)
	checkTaskIDs(p, "poll.task_ids", c.Poll.TaskIDs)
	if len(c.DCS.Projects) > 0 {
		if len(c.Poll.TaskIDs) > 0 {
			p.add("poll.task_ids", "a task id belongs to one project: with dcs.projects, list it in that project's task_ids")
		}
	} else if !c.Poll.Discover && len(c.Poll.TaskIDs) == 0 {
		p.add("poll", "nothing to watch: set poll.task_ids or poll.discover")
	}
	if !oneOf(c.Poll.Detail, DetailAuto, DetailOnChange, DetailEveryCycle) {
		p.add("poll.detail", "must be %s, %s or %s, not %q", DetailAuto, DetailOnChange, DetailEveryCycle, c.Poll.Detail)
	}
	if c.Poll.RefreshActive <= 0 {
		p.add("poll.refresh_active", "must be above 0, not %s", c.Poll.RefreshActive)
	}
	if c.Poll.RefreshTerminal < 0 {
		p.add("poll.refresh_terminal", "must be 0 (never) or above, not %s", c.Poll.RefreshTerminal)
	}
	if c.Poll.AbsentChecks < 1 {
		p.add("poll.absent_checks", "must be at least 1, not %d", c.Poll.AbsentChecks)
	}
	if c.Poll.StatsEvery < 0 {
		p.add("poll.stats_every", "must be 0 (every cycle the budget allows) or above, not %s", c.Poll.StatsEvery)
	}
	if len(c.DCS.Projects) == 0 && !c.Poll.Discover && c.Poll.NameFilter != "" {
		p.add("poll.name_filter", "only used with poll.discover: true")
	}
}

// checkSchedule uses cron.ParseStandard, the poller's own parser, so that a
// spec accepted here is one the poller accepts.
func checkSchedule(p *problems, key, spec string) {
	if strings.TrimSpace(spec) == "" {
		p.add(key, "required (e.g. \"@every 30s\")")
		return
	}
	if _, err := cron.ParseStandard(spec); err != nil {
		p.add(key, "invalid cron spec %q: %v", spec, err)
		return
	}
	// cron silently turns "@every 500ms" into 1s and "@every 1.5s" into 1s:
	// say so rather than poll at a rate nobody asked for.
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err == nil && (d < time.Second || d%time.Second != 0) {
			p.add(key, "invalid cron spec %q: the scheduler works in whole seconds, at least 1s", spec)
		}
	}
}

func (c Config) validateNATS(p *problems) {
	n := c.NATS
	embedded := n.URL == ""
	if !embedded {
		checkNATSURL(p, "nats.url", n.URL)
	} else {
		checkListen(p, "nats.listen", n.Listen)
		if n.CredsFile != "" {
			p.add("nats.creds_file", "only used with nats.url (an external NATS); the embedded server needs none")
		}
		if n.Token != "" {
			p.add("nats.token", "only used with nats.url (an external NATS); the embedded server needs none")
		}
	}
	if n.CredsFile != "" && n.Token != "" {
		p.add("nats.token", "set either nats.token or nats.creds_file, not both")
	}
	checkSubjectPrefix(p, "nats.subject_prefix", n.SubjectPrefix)
	checkName(p, "nats.stream", n.Stream)
	checkName(p, "nats.kv_bucket", n.KVBucket)
	checkName(p, "nats.lease_bucket", n.LeaseBucket)
	if n.LeaseBucket == n.KVBucket {
		p.add("nats.lease_bucket", "must differ from nats.kv_bucket")
	}
	if n.LeaseTTL < time.Second {
		p.add("nats.lease_ttl", "must be at least 1s, got %s", n.LeaseTTL)
	}
	if n.DuplicateWindow <= 0 {
		p.add("nats.duplicate_window", "must be positive, got %s", n.DuplicateWindow)
	}
	switch {
	case n.MaxAge < 0:
		p.add("nats.max_age", "must not be negative (0 keeps events forever), got %s", n.MaxAge)
	case n.MaxAge > 0 && n.DuplicateWindow > n.MaxAge:
		// JetStream refuses such a stream; say it here, with the keys to change.
		p.add("nats.duplicate_window", "%s exceeds nats.max_age %s", n.DuplicateWindow, n.MaxAge)
	}
	switch {
	case n.Replicas < 1 || n.Replicas > maxReplicas:
		p.add("nats.replicas", "must be between 1 and %d, got %d", maxReplicas, n.Replicas)
	case n.Replicas > 1 && embedded:
		p.add("nats.replicas", "must be 1 with the embedded server (nats.url empty): it is a single node")
	}
}
