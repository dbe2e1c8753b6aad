package metrics

import (
	"cmp"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

var (
	tasksDesc = prometheus.NewDesc(namespace+"_tasks",
		"Watched tasks (not removed) by normalised status and phase; statuses the watcher does not know count as OTHER.",
		[]string{"status", "phase"}, nil)
	slackDesc = prometheus.NewDesc(namespace+"_slack_deliveries_total",
		"Slack delivery outcomes: sent (messages accepted), retried, throttled (429), failed (refused for good), dead (dead-destination episodes), skipped (not posted: kind or already delivered), quiet (held back by slack.degraded_for).",
		[]string{"outcome"}, nil)
	slackEventsDesc = prometheus.NewDesc(namespace+"_slack_events_delivered_total",
		"Events the accepted Slack messages carried.", nil, nil)
	oldestDesc = prometheus.NewDesc(namespace+"_oldest_refresh_age_seconds",
		"Age of the oldest snapshot refresh: how long the least recently confirmed task has gone unconfirmed.", nil, nil)
	leasesDesc = prometheus.NewDesc(namespace+"_leases_held",
		"Projects this replica polls under a lease (replicas on an external NATS; absent with the embedded server).", nil, nil)
	storeDesc = prometheus.NewDesc(namespace+"_store_writable",
		"1 while the embedded server's JetStream store writes, 0 while it cannot (a full disk; absent with an external NATS).", nil, nil)
	replicasDesc = prometheus.NewDesc(namespace+"_replicas_live",
		"Replicas alive by their heartbeats, this one included (absent with the embedded server).", nil, nil)
)

// sourceCollector reads the attached app at scrape time.
type sourceCollector Metrics

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tasksDesc
	ch <- slackDesc
	ch <- slackEventsDesc
	ch <- oldestDesc
	ch <- leasesDesc
	ch <- replicasDesc
	ch <- storeDesc
	ch <- progressDesc
	ch <- lagDesc
	ch <- droppedDesc
}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	m := (*Metrics)(c)
	src, base := m.sources()
	if src.Statuses != nil {
		type key struct{ status, phase string }
		counts := map[key]int{}
		for _, s := range src.Statuses() {
			name := string(s)
			if !s.Known() {
				// The API's spelling of something new: bounded by folding
				// it, its phase says it is unknown.
				name = "OTHER"
			}
			counts[key{name, string(s.Phase())}]++
		}
		for k, n := range counts {
			ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(n), k.status, k.phase)
		}
	}
	if src.Slack != nil {
		st := addStats(base, src.Slack())
		for _, o := range []struct {
			name string
			v    uint64
		}{{"sent", st.Sent}, {"retried", st.Retried}, {"throttled", st.Throttled}, {"failed", st.Failed},
			{"dead", st.Dead}, {"skipped", st.Skipped}, {"quiet", st.Quiet}} {
			ch <- prometheus.MustNewConstMetric(slackDesc, prometheus.CounterValue, float64(o.v), o.name)
		}
		ch <- prometheus.MustNewConstMetric(slackEventsDesc, prometheus.CounterValue, float64(st.Events))
	}
	if src.Leases != nil {
		held, live := src.Leases()
		ch <- prometheus.MustNewConstMetric(leasesDesc, prometheus.GaugeValue, float64(held))
		ch <- prometheus.MustNewConstMetric(replicasDesc, prometheus.GaugeValue, float64(live))
	}
	if src.Store != nil {
		v := 1.0
		if src.Store() != nil {
			v = 0
		}
		ch <- prometheus.MustNewConstMetric(storeDesc, prometheus.GaugeValue, v)
	}
	if src.Progress != nil {
		collectProgress(ch, src.Progress)
	}
	if ns := m.oldest.Load(); ns >= 0 {
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, time.Duration(ns).Seconds())
	}
}

// maxTaskSeries caps the task gauges' series per scrape, so that a fleet
// far larger than planned cannot blow up the scrape.
const maxTaskSeries = 10000

var (
	progressDesc = prometheus.NewDesc(namespace+"_task_progress_percent",
		"Full-sync progress of each active task (full_migration_progress, 0..100), by project and task id; absent when unknown.",
		[]string{"project", "task_id"}, nil)
	lagDesc = prometheus.NewDesc(namespace+"_task_lag",
		"Incremental-sync lag of each active task (the stats call's offset; 0 is in sync), by project and task id; absent when unknown.",
		[]string{"project", "task_id"}, nil)
	droppedDesc = prometheus.NewDesc(namespace+"_task_series_dropped",
		"Task gauge series left out of this scrape by the cap of 10000 (those of the tasks last by project and task id).", nil, nil)
)

// taskSeries is one task gauge's value.
type taskSeries struct {
	lag           bool // the lag gauge, else the progress one
	project, task string
	value         float64
}

// collectProgress sends the task gauges, at most maxTaskSeries of them:
// the first by project and task id, so that the same tasks keep their
// series from one scrape to the next; how many were left out, too.
func collectProgress(ch chan<- prometheus.Metric, each func(fn func(project, taskID string, st dcs.Stats))) {
	var all []taskSeries
	each(func(project, id string, st dcs.Stats) {
		if st.Percent != nil {
			all = append(all, taskSeries{false, project, id, *st.Percent})
		}
		if st.Lag != nil {
			all = append(all, taskSeries{true, project, id, float64(*st.Lag)})
		}
	})
	slices.SortFunc(all, func(a, b taskSeries) int {
		return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.task, b.task), cmp.Compare(boolInt(a.lag), boolInt(b.lag)))
	})
	kept := all[:min(len(all), maxTaskSeries)]
	for _, s := range kept {
		desc := progressDesc
		if s.lag {
			desc = lagDesc
		}
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, s.value, s.project, s.task)
	}
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.GaugeValue, float64(len(all)-len(kept)))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
