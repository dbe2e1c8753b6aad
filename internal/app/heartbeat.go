package app

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/heartbeat"
	"github.com/dcs-watcher/watcher/internal/lease"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/poller"
)

// beats is the watcher's dead man's switch (docs/heartbeat.md): this
// replica's heartbeat event every heartbeat.every, and the GET of
// heartbeat.ping_url after each cycle in which every project it polls
// succeeded.
type beats struct {
	log     zerolog.Logger
	version string
	replica string
	started time.Time
	seq     atomic.Uint64
	publish heartbeat.Episode // failed publishes, logged once an episode
	cycles  heartbeat.Cycles
	pinger  *heartbeat.Pinger // nil: no ping_url
	pingNow chan struct{}     // a ping is due; one pending at most
}

// maxBeatPublish bounds a heartbeat's publish (and heartbeat.every, if
// shorter): a heartbeat late by more is no news.
const maxBeatPublish = 10 * time.Second

// newBeats sets up the heartbeat of a replica named replica (its lease
// identity, or Options.Replica: the same through the reloads of one
// process; "" names it here).
func (a *App) newBeats(replica string) {
	cfg := a.Config.Heartbeat
	if replica == "" {
		replica = lease.NewIdentity()
	}
	b := &beats{
		log:     a.opts.Logger.With().Str("component", "heartbeat").Logger(),
		version: "(unknown)", replica: replica, started: a.now(),
		pingNow: make(chan struct{}, 1),
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.version = bi.Main.Version
	}
	if cfg.PingURL != "" {
		b.pinger = heartbeat.NewPinger(cfg.PingURL, cfg.PingTimeout, b.log)
	}
	a.beats = b
}

// cycleOK says whether a cycle succeeded as the ping means it: it ran, saw
// the API and stored what it saw (no error) and every detail call of it
// was answered. A cycle with API errors is no success, even if it
// published what it could; a failed stats or logs call (progress, a log
// tail) is not held against it: the tasks were seen.
func cycleOK(st poller.Stats, err error) bool {
	return err == nil && !st.Skipped && st.Failed == 0
}

// recordCycle records a cycle of the project at key (a paused one tells
// nothing) and says whether it did.
func (a *App) recordCycle(key string, st poller.Stats, err error) bool {
	if st.Skipped {
		return false
	}
	a.beats.cycles.Record(key, cycleOK(st, err), a.now())
	return true
}

// cycled is the poller's Cycled hook of the project at key: it records
// the cycle and asks for a ping when every project this replica polls
// succeeded last, then calls next.
func (a *App) cycled(key string, next func(poller.Stats, error)) func(poller.Stats, error) {
	return func(st poller.Stats, err error) {
		if next != nil {
			next(st, err)
		}
		if !a.recordCycle(key, st, err) {
			return
		}
		if a.beats.pinger != nil && a.beats.cycles.AllOK(a.ledKeys()) {
			select {
			case a.beats.pingNow <- struct{}{}:
			default: // one is pending already
			}
		}
	}
}

// ledKeys are the config keys of the projects this replica polls now.
func (a *App) ledKeys() []string {
	var keys []string
	for i, p := range a.Projects {
		if a.Leads(i) {
			keys = append(keys, p.Key)
		}
	}
	return keys
}

// Ping GETs heartbeat.ping_url when every project's last Cycle succeeded
// (the once command, whose Cycle polls them all, leases or not); it does
// nothing without a ping URL or after a failed cycle. A failed ping is
// logged (without the URL) and returned.
func (a *App) Ping(ctx context.Context) error {
	keys := make([]string, len(a.Projects))
	for i, p := range a.Projects {
		keys[i] = p.Key
	}
	if a.beats.pinger == nil || !a.beats.cycles.AllOK(keys) {
		return nil
	}
	return a.beats.pinger.Ping(ctx)
}

// pingLoop pings whenever a cycle asked for it, until ctx is done; a ping
// that takes long delays the next, never the poller.
func (a *App) pingLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.beats.pingNow:
			_ = a.beats.pinger.Ping(ctx) // logged by the pinger
		}
	}
}

// beatLoop publishes this replica's heartbeat at once and then every
// heartbeat.every until ctx is done. A publish that fails is logged (once
// until one succeeds again), never fatal.
func (a *App) beatLoop(ctx context.Context) {
	every := a.Config.Heartbeat.Every
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		a.beat(ctx, min(every, maxBeatPublish))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *App) beat(ctx context.Context, timeout time.Duration) {
	b := a.beats
	_, live := a.LeaseCounts()
	hb := event.HeartbeatData{
		Version: b.version, Replica: b.replica, Started: b.started.UTC(), Seq: b.seq.Add(1),
		Replicas: live, Projects: []event.HeartbeatProject{},
	}
	for i, p := range a.Projects {
		if a.Leads(i) {
			hb.Projects = append(hb.Projects, event.HeartbeatProject{ProjectID: p.ProjectID, Region: p.Region, LastSuccess: b.cycles.LastOK(p.Key)})
		}
	}
	env := notify.Heartbeat(a.Config.NATS.SubjectPrefix, a.Config.DCS.Region, a.now(), hb)
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := a.events.Publish(pctx, env); err != nil {
		if ctx.Err() == nil && b.publish.Fail() {
			b.log.Warn().Err(err).Uint64("seq", hb.Seq).Msg("heartbeat not published: monitors of the heartbeat will see it missing; logged again when one is")
		}
		return
	}
	if b.publish.OK() {
		b.log.Info().Uint64("seq", hb.Seq).Msg("heartbeat published again")
	}
}
