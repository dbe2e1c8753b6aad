package metrics

import (
	"cmp"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

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

// progressCollector reads the task gauges off the attached app at scrape
// time: a task's series are there while its poller keeps its progress.
type progressCollector Metrics

func (c *progressCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- progressDesc
	ch <- lagDesc
	ch <- droppedDesc
}

func (c *progressCollector) Collect(ch chan<- prometheus.Metric) {
	src, _ := (*Metrics)(c).sources()
	if src.Progress != nil {
		collectProgress(ch, src.Progress)
	}
}
