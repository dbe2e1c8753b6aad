package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	if ns := m.oldest.Load(); ns >= 0 {
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, time.Duration(ns).Seconds())
	}
}
