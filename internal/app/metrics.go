package app

import (
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/metrics"
	"github.com/dcs-watcher/watcher/internal/notify/delivery"
	"github.com/dcs-watcher/watcher/internal/state"
)

// AttachMetrics points m at the app's snapshots, Slack notifier, NATS
// connection and leases, and at its schedule: what m reads at scrape time
// and what /readyz judges.
func (a *App) AttachMetrics(m *metrics.Metrics) {
	s := metrics.Sources{
		Statuses:      a.statuses,
		Progress:      a.progress,
		NATSConnected: a.Broker.Conn.IsConnected,
	}
	if a.Broker.Embedded() {
		s.Store, s.StoreStuck = a.Broker.StoreErr, a.Broker.StoreStuck
	}
	if a.Leases != nil {
		s.Leases = a.LeaseCounts
	}
	if a.Buttons != nil {
		s.SlackSocket = a.Buttons.Connected
	}
	if a.Slack != nil {
		slack := a.Slack
		s.Slack = func() delivery.Stats { return slack.Stats() }
	}
	m.Attach(s)
	_ = m.SetSchedule(a.Config.Poll.Schedule) // validated with the config
}

// statuses are the statuses of the tasks this replica keeps current: those
// of the projects it polls (another replica's snapshots here are not kept
// current).
func (a *App) statuses() []dcs.Status {
	var out []dcs.Status
	for i, p := range a.Projects {
		if !a.Leads(i) {
			continue
		}
		a.Snaps.Each(p.ProjectID, func(e state.Entry) {
			if !e.Removed {
				out = append(out, dcs.Normalize(e.Task.Status))
			}
		})
	}
	return out
}

// progress hands fn the last progress of every active task of the projects
// this replica polls, for the task gauges.
func (a *App) progress(fn func(project, taskID string, st dcs.Stats)) {
	for i, p := range a.Projects {
		if !a.Leads(i) {
			continue
		}
		p.Poller.EachProgress(func(id string, st dcs.Stats, _ time.Time) { fn(p.ProjectID, id, st) })
	}
}
