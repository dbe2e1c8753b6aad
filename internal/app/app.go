// Package app wires the watcher together from a validated config: the NATS
// broker (embedded or external), the events stream, the snapshot store, the
// poller and the Slack notifier. Every command that watches (run, once, demo,
// bench) and the end-to-end tests start the watcher through Start, so they
// all run the same wiring.
package app

import (
	"context"
	"sync/atomic"

	"github.com/dcs-watcher/watcher/internal/broker"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/lease"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/delivery"
	"github.com/dcs-watcher/watcher/internal/notify/slackact"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/silence"
	"github.com/dcs-watcher/watcher/internal/state"
	"github.com/dcs-watcher/watcher/internal/statuspage"
)

// App is the watcher wired together. Stop it with Stop.
type App struct {
	Broker *broker.Broker
	Snaps  *state.Snapshots
	// Projects are the watched projects in the config's order, each with
	// its own DCS client and poller; one stream, one snapshot bucket and
	// one Slack notifier serve them all.
	Projects []Project
	// Poller is the first project's poller, the only one of a
	// single-project config (the bench and the demo drive it).
	Poller *poller.Poller
	Slack  *delivery.Notifier // nil when Slack is off
	// Buttons answers the cards' buttons over Socket Mode; nil without
	// slack.app_token.
	Buttons *slackact.Listener
	// Status is the status page's model (http.status_page); nil when off.
	Status *statuspage.Model
	Config config.Config
	// Leases elect each project's leader among replicas (external NATS);
	// nil with the embedded server, where this process is the only one.
	Leases *lease.Store
	// Silences marks the events a silence or a mute window holds
	// (data.silenced); Catchup remembers what each hid, for the Slack
	// notifier to skip and, when the silence ends, to post (Observe, Due,
	// Done).
	Silences *silence.Set
	Catchup  *silence.Tracker
	// silenceStore is the silences' bucket (the cards' Silence button).
	silenceStore *silence.Store
	// stopSilences ends the silences' watches with the app.
	stopSilences context.CancelFunc
	opts         Options
	events       *notify.Publisher // the region-less publisher (catch-up events, heartbeats)
	beats        *beats            // the heartbeat and the ping (heartbeat.go)
	live         atomic.Int64      // replicas alive, by their heartbeats
	held         atomic.Int64      // leases this replica holds
	leads        []atomic.Bool     // by project: this replica holds its lease
}

// Project is one watched project and the poller that watches it.
type Project struct {
	config.Project
	Poller *poller.Poller
	client *dcs.Client
	pub    *notify.Publisher
}
