package app

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/memlimit"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/delivery"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/statuspage"
)

// Options are what a command changes of the wiring beyond the config.
type Options struct {
	Logger zerolog.Logger
	// NoSlack leaves the Slack notifier out even when the config enables it
	// (once: a durable consumer delivers to Slack, once only publishes).
	NoSlack bool
	// SlackSender replaces the webhook (the demo's console sink).
	SlackSender delivery.Sender
	// Published hears of each event once JetStream has stored it.
	Published func(notify.Envelope)
	// Cycled hears of each cycle the poller's Run makes (the bench times them).
	Cycled func(poller.Stats, error)
	// Fleet sizes the soft memory limit to the tasks each project lists
	// (memory_limit auto, no container limit); nil: the limit is set
	// elsewhere or not at all.
	Fleet *memlimit.Fleet
	// DCSCalled hears of each DCS API call when it ends (metrics).
	DCSCalled func(call, outcome string, took time.Duration)
	Now       func() time.Time
	// StatusPage is the page (on the HTTP listener, which outlives the
	// app) that Run hands the status model to when http.status_page is
	// true; nil: no model is kept.
	StatusPage *statuspage.Page
	// Replica names this replica in the lease bucket; empty: a new
	// identity (lease.NewIdentity). The run loop gives every App it starts
	// the same one, so that after a reload the new App takes over the
	// leases of the one before at once (its own records) instead of
	// waiting out their TTL.
	Replica string
	// Getenv reads the SDK's region endpoint override
	// (HUAWEICLOUD_SDK_REGION_DCS_<REGION>); nil reads nothing.
	Getenv func(string) string
}
