package config

import (
	"fmt"
	"time"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/secret"
)

// Environment variables that override the file. The Huawei Cloud names are the
// SDK's own, so a shell already set up for hcloud or the SDK works as is.
const (
	EnvProjectID     = "HUAWEICLOUD_SDK_PROJECT_ID"
	EnvAK            = "HUAWEICLOUD_SDK_AK"
	EnvSK            = "HUAWEICLOUD_SDK_SK"
	EnvSecurityToken = "HUAWEICLOUD_SDK_SECURITY_TOKEN"
	EnvDCSAuthToken  = "WATCHER_DCS_AUTH_TOKEN"
	EnvIAMEndpoint   = "HUAWEICLOUD_SDK_IAM_ENDPOINT"
	EnvNATSURL       = "WATCHER_NATS_URL"
	EnvNATSToken     = "WATCHER_NATS_TOKEN"
	EnvSlackWebhook  = "WATCHER_SLACK_WEBHOOK_URL"
	EnvSlackBotToken = "WATCHER_SLACK_BOT_TOKEN"
	EnvSlackAppToken = "WATCHER_SLACK_APP_TOKEN"
)

// Config is the whole configuration of the watcher. The yaml tags are the
// file's keys; the json tags match them so that a JSON dump reads the same.
type Config struct {
	Log     LogConfig `yaml:"log" json:"log"`
	DataDir string    `yaml:"data_dir" json:"data_dir"`
	// MemoryLimit is the process's soft memory limit (the Go runtime's,
	// GOMEMLIMIT): auto (90% of the container's cgroup limit when there is
	// one, else sized to the tasks listed: memlimit.Fleet), off, or a size
	// such as "300MiB". GOMEMLIMIT in the environment
	// wins; read at the start (memlimit.Apply).
	MemoryLimit string      `yaml:"memory_limit" json:"memory_limit"`
	DCS         DCSConfig   `yaml:"dcs" json:"dcs"`
	Poll        PollConfig  `yaml:"poll" json:"poll"`
	NATS        NATSConfig  `yaml:"nats" json:"nats"`
	Slack       SlackConfig `yaml:"slack" json:"slack"`
	HTTP        HTTPConfig  `yaml:"http" json:"http"`
	// Attention: the stalled and resumed events (attention.go).
	Attention AttentionConfig `yaml:"attention" json:"attention"`
	// Heartbeat: the watcher's own liveness event and ping (heartbeat.go).
	Heartbeat HeartbeatConfig `yaml:"heartbeat" json:"heartbeat"`
}

// LogConfig selects the log level and format.
type LogConfig struct {
	Level  string `yaml:"level" json:"level"`   // debug|info|warn|error
	Format string `yaml:"format" json:"format"` // auto|json|console; auto = console on a terminal
}

// DCSConfig says how to reach and authenticate to the DCS API.
type DCSConfig struct {
	Region        string        `yaml:"region" json:"region"`
	Endpoint      string        `yaml:"endpoint" json:"endpoint"` // overrides Region when set
	ProjectID     string        `yaml:"project_id" json:"project_id"`
	AK            secret.Secret `yaml:"ak" json:"ak"`
	SK            secret.Secret `yaml:"sk" json:"sk"`
	SecurityToken secret.Secret `yaml:"security_token" json:"security_token"`
	AuthToken     secret.Secret `yaml:"auth_token" json:"auth_token"` // IAM token, instead of AK/SK
	// Credentials picks where the credentials come from: auto (dcs.ak/sk
	// or dcs.auth_token, then HUAWEICLOUD_SDK_AK/SK, then the profile
	// file), config, env, profile or metadata (the ECS agency's temporary
	// credentials, refreshed before they expire).
	Credentials      string `yaml:"credentials" json:"credentials"`
	Profile          string `yaml:"profile" json:"profile"`                   // section of the profile file
	CredentialsFile  string `yaml:"credentials_file" json:"credentials_file"` // "": $HUAWEICLOUD_SDK_CREDENTIALS_FILE or ~/.huaweicloud/credentials
	MetadataEndpoint string `yaml:"metadata_endpoint" json:"metadata_endpoint"`
	// IAMEndpoint is where the project id is looked up when ProjectID is
	// empty.
	IAMEndpoint  string        `yaml:"iam_endpoint" json:"iam_endpoint"`
	Timeout      time.Duration `yaml:"timeout" json:"timeout"` // per call
	MaxBodyBytes int64         `yaml:"max_body_bytes" json:"max_body_bytes"`
	Concurrency  int           `yaml:"concurrency" json:"concurrency"` // parallel detail calls
	// RateLimit is the account's budget in calls per second: one limiter
	// shared by every project's client, since the API throttles per
	// account (all projects are signed with the same credentials).
	RateLimit float64 `yaml:"rate_limit" json:"rate_limit"`
	// Projects are the projects watched by this one process; empty: the
	// one of ProjectID, Region and Endpoint, with poll.task_ids,
	// poll.discover and poll.name_filter. Set either Projects or
	// ProjectID, not both. Resolve them with Config.Projects.
	Projects []ProjectConfig `yaml:"projects" json:"projects"`
}

// ProjectConfig is one entry of dcs.projects: a project of a region, the
// tasks watched there and its share of the account's call budget. Keys left
// out take the value of the key named beside each.
type ProjectConfig struct {
	// Name labels the project in logs and in the validate command; default
	// the project id. Events name the project id, never the name.
	Name      string `yaml:"name" json:"name"`
	Region    string `yaml:"region" json:"region"`     // dcs.region
	Endpoint  string `yaml:"endpoint" json:"endpoint"` // dcs.endpoint when region is left out, else the region's
	ProjectID string `yaml:"project_id" json:"project_id"`
	// NameFilter, TaskIDs and Discover are poll.name_filter, poll.task_ids
	// (which must stay empty beside dcs.projects) and poll.discover for this
	// project.
	NameFilter string   `yaml:"name_filter" json:"name_filter"` // poll.name_filter
	TaskIDs    []string `yaml:"task_ids" json:"task_ids"`
	Discover   *bool    `yaml:"discover" json:"discover"` // poll.discover
	// RateLimit caps this project's calls per second inside the account's
	// dcs.rate_limit, so that one large project cannot starve the others;
	// 0: no cap of its own.
	RateLimit float64 `yaml:"rate_limit" json:"rate_limit"`
}

// Project is a watched project with every inherited value filled in: what
// the wiring and the validate command work from.
type Project struct {
	Key        string // the config key it comes from: "dcs" or "dcs.projects[i]"
	Name       string
	Region     string
	Endpoint   string
	ProjectID  string
	NameFilter string
	TaskIDs    []string
	Discover   bool
	RateLimit  float64 // 0: only the account's limit
}

// Projects resolves the watched projects: dcs.projects with the inherited
// values filled in, or the single project of dcs.project_id.
func (c Config) Projects() []Project {
	d := c.DCS
	if len(d.Projects) == 0 {
		return []Project{{
			Key: "dcs", Name: d.ProjectID, Region: d.Region, Endpoint: d.Endpoint, ProjectID: d.ProjectID,
			NameFilter: c.Poll.NameFilter, TaskIDs: c.Poll.TaskIDs, Discover: c.Poll.Discover,
		}}
	}
	out := make([]Project, len(d.Projects))
	for i, p := range d.Projects {
		r := Project{
			Key: fmt.Sprintf("dcs.projects[%d]", i), Name: p.Name, Region: p.Region, Endpoint: p.Endpoint,
			ProjectID: p.ProjectID, NameFilter: p.NameFilter, TaskIDs: p.TaskIDs,
			Discover: c.Poll.Discover, RateLimit: p.RateLimit,
		}
		if r.Name == "" {
			r.Name = r.ProjectID
		}
		if r.Region == "" {
			// Without a region of its own the project is where dcs.region
			// and dcs.endpoint say; a region of its own has its own endpoint.
			r.Region = d.Region
			if r.Endpoint == "" {
				r.Endpoint = d.Endpoint
			}
		}
		if p.Discover != nil {
			r.Discover = *p.Discover
		}
		if r.NameFilter == "" && r.Discover {
			r.NameFilter = c.Poll.NameFilter
		}
		if r.TaskIDs == nil {
			r.TaskIDs = []string{}
		}
		out[i] = r
	}
	return out
}

// The values of dcs.credentials (the dcs package's Source* names).
const (
	CredentialsAuto     = "auto"
	CredentialsConfig   = "config"
	CredentialsEnv      = "env"
	CredentialsProfile  = "profile"
	CredentialsMetadata = "metadata"
)

// LocalSimulator reports whether the endpoint is a plain-HTTP loopback URL:
// the DCS simulator of demo and tests, which needs no credentials.
func (d DCSConfig) LocalSimulator() bool { return isLocalSimulator(d.Endpoint) }

// PollConfig says when to poll and which tasks to watch.
type PollConfig struct {
	Schedule   string   `yaml:"schedule" json:"schedule"` // cron.ParseStandard spec
	TaskIDs    []string `yaml:"task_ids" json:"task_ids"`
	Discover   bool     `yaml:"discover" json:"discover"`       // also watch every listed task
	NameFilter string   `yaml:"name_filter" json:"name_filter"` // the list call's name filter
	// Detail says when a listed task gets a detail call: auto (the default:
	// changed rows, then as many refreshes as dcs.rate_limit times the
	// schedule's interval leaves, by priority), on_change (its list row
	// differs from the snapshot, it is new, or its refresh is due) or
	// every_cycle. Tasks that are not listed get one every cycle.
	Detail          string        `yaml:"detail" json:"detail"`
	RefreshActive   time.Duration `yaml:"refresh_active" json:"refresh_active"`     // on_change: detail call at least this often for a task not yet finished
	RefreshTerminal time.Duration `yaml:"refresh_terminal" json:"refresh_terminal"` // on_change: the same for a finished task; 0 = never
	// AbsentChecks is how many known tasks missing from the list get the
	// detail call that decides whether they are gone, per cycle.
	AbsentChecks int `yaml:"absent_checks" json:"absent_checks"`
	// StatsEvery is how often each task in an active status gets its
	// stats call (its progress): 0 (the default) every cycle as far as the
	// call budget allows, the task asked longest ago first; a duration:
	// once that long has passed since its last one, budget permitting.
	StatsEvery time.Duration `yaml:"stats_every" json:"stats_every"`
}

// The values of poll.detail.
const (
	DetailAuto       = "auto"
	DetailOnChange   = "on_change"
	DetailEveryCycle = "every_cycle"
)

// NATSConfig configures the embedded server (URL empty) or the connection to
// an external NATS, and the JetStream stream and KV bucket the watcher uses.
type NATSConfig struct {
	URL             string        `yaml:"url" json:"url"`       // empty = embedded nats-server
	Listen          string        `yaml:"listen" json:"listen"` // embedded server's host:port
	CredsFile       string        `yaml:"creds_file" json:"creds_file"`
	Token           secret.Secret `yaml:"token" json:"token"`
	SubjectPrefix   string        `yaml:"subject_prefix" json:"subject_prefix"`
	Stream          string        `yaml:"stream" json:"stream"`
	DuplicateWindow time.Duration `yaml:"duplicate_window" json:"duplicate_window"`
	MaxAge          time.Duration `yaml:"max_age" json:"max_age"` // stream retention; 0 = unlimited
	Replicas        int           `yaml:"replicas" json:"replicas"`
	KVBucket        string        `yaml:"kv_bucket" json:"kv_bucket"` // snapshots
	// LeaseBucket holds each project's leader lease (external NATS only:
	// replicas of the watcher share the projects, one poller each).
	LeaseBucket string        `yaml:"lease_bucket" json:"lease_bucket"`
	LeaseTTL    time.Duration `yaml:"lease_ttl" json:"lease_ttl"`
}

// Default returns the configuration used for every key the file leaves out.
// Each call returns fresh slices, so callers may modify the result freely.
func Default() Config {
	return Config{
		Log:         LogConfig{Level: "info", Format: "auto"},
		Attention:   defaultAttention(),
		Heartbeat:   defaultHeartbeat(),
		DataDir:     "./data",
		MemoryLimit: MemoryLimitAuto,
		DCS: DCSConfig{
			Region:           "cn-north-4",
			Credentials:      CredentialsAuto,
			Profile:          "default",
			MetadataEndpoint: "http://169.254.169.254",
			IAMEndpoint:      "https://iam.myhuaweicloud.com",
			Timeout:          10 * time.Second,
			MaxBodyBytes:     4 << 20,
			Concurrency:      8,
			RateLimit:        20,
			Projects:         []ProjectConfig{},
		},
		Poll: PollConfig{
			Schedule: "@every 30s",
			TaskIDs:  []string{},
			Discover: true,
			// The list carries status and error, not task_status: an hourly
			// detail call sees the rest at about 1% of per-task polling's
			// calls with 10k tasks at a 30 s schedule.
			Detail:          DetailAuto,
			RefreshActive:   time.Hour,
			RefreshTerminal: 24 * time.Hour,
			AbsentChecks:    50,
		},
		NATS: NATSConfig{
			Listen:          "127.0.0.1:4222",
			SubjectPrefix:   "dcs.migration",
			Stream:          "DCS_MIGRATION",
			DuplicateWindow: 24 * time.Hour,
			MaxAge:          30 * 24 * time.Hour,
			Replicas:        1,
			KVBucket:        "dcs_watcher_snapshots",
			LeaseBucket:     "dcs_watcher_leases",
			LeaseTTL:        15 * time.Second,
		},
		Slack: SlackConfig{
			// First sight and routine field changes are not worth waking anyone:
			// a fresh start would otherwise post one message per task.
			Kinds: []string{
				string(diff.StatusChanged), string(diff.Removed),
				string(diff.WatchDegraded), string(diff.WatchRecovered),
				string(diff.Stalled), string(diff.Resumed),
			},
			Consumer:      "watcher-slack",
			MarksBucket:   "dcs_watcher_slack",
			APIURL:        "https://slack.com/api/",
			CardsBucket:   "dcs_watcher_slack_cards",
			ConsoleURL:    slackmsg.DefaultConsoleURL,
			Actors:        []string{},
			ActionsBucket: "dcs_watcher_slack_actions",
			MinRetryDelay: time.Second,
			MaxRetryDelay: 5 * time.Minute,
			Timeout:       15 * time.Second,
			// Someone has to create a new webhook or unarchive the channel:
			// minutes, not seconds, and one post each time.
			DeadRetry: 5 * time.Minute,
			// An incoming webhook takes about one message per second per
			// channel; grouping makes a burst of 1,000 changes a few
			// dozen messages instead of 17 minutes of them.
			Rate:     1,
			GroupMin: 3,
			GroupMax: 100,
			// A task found already failed is news; a healthy one is not.
			QuietStart: true,
			Routes:     []RouteConfig{},
			// Like Alertmanager's for: a throttling spell of one or two
			// polls is not worth a message, a longer blindness is.
			DegradedFor:    2 * time.Minute,
			RemindEvery:    4 * time.Hour,
			MuteWindows:    []MuteWindowConfig{},
			SilencesBucket: "dcs_watcher_silences",
		},
	}
}
