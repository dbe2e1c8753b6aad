package config

import (
	"net/url"
	"time"

	"github.com/dcs-watcher/watcher/internal/secret"
)

// EnvHeartbeatPingURL overrides heartbeat.ping_url.
const EnvHeartbeatPingURL = "WATCHER_HEARTBEAT_PING_URL"

// HeartbeatConfig is the watcher's dead man's switch (docs/heartbeat.md):
// a heartbeat event on "<prefix>._watcher.heartbeat" every Every, and a GET
// of PingURL after each successful cycle.
type HeartbeatConfig struct {
	// Every is how often each replica publishes its heartbeat; 0 = never.
	Every time.Duration `yaml:"every" json:"every"`
	// PingURL is GET after each cycle in which every project this replica
	// polls was seen whole (healthchecks.io, Cronitor, a Watchdog
	// receiver); "" = no ping. It usually holds a token: a secret.
	PingURL     secret.Secret `yaml:"ping_url" json:"ping_url"`
	PingTimeout time.Duration `yaml:"ping_timeout" json:"ping_timeout"`
}

// Bounds of heartbeat.every.
const minHeartbeatEvery = time.Second

func defaultHeartbeat() HeartbeatConfig {
	return HeartbeatConfig{Every: time.Minute, PingTimeout: 10 * time.Second}
}

func (c Config) validateHeartbeat(p *problems) {
	h := c.Heartbeat
	if h.Every < 0 || (h.Every > 0 && h.Every < minHeartbeatEvery) {
		p.add("heartbeat.every", "%s: want 0s (off) or at least %s", h.Every, minHeartbeatEvery)
	}
	if h.PingTimeout <= 0 {
		p.add("heartbeat.ping_timeout", "%s: want a positive duration", h.PingTimeout)
	}
	if h.PingURL != "" {
		// The URL is the credential: never echo it, nor url.Parse's
		// error, which quotes its input.
		u, err := url.Parse(h.PingURL.Reveal())
		switch {
		case err != nil:
			p.add("heartbeat.ping_url", "not a valid URL (set it or %s to http(s)://host/path)", EnvHeartbeatPingURL)
		case u.Scheme != "http" && u.Scheme != "https":
			p.add("heartbeat.ping_url", "scheme must be http or https")
		case u.Host == "":
			p.add("heartbeat.ping_url", "has no host")
		}
	}
}
