package attention_test

import (
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/attention"
	"github.com/dcs-watcher/watcher/internal/dcs"
)

// BenchmarkDetect is the cost the poller pays per task per cycle: a full
// sync with a 15-minute window of answers every 30 s, nothing opening.
func BenchmarkDetect(b *testing.B) {
	c := attention.Config{StallAfter: 15 * time.Minute, MaxLag: 1 << 30, LagGrowingFor: 10 * time.Minute,
		MaxInStatus: map[dcs.Status]time.Duration{dcs.StatusRunning: time.Hour, dcs.StatusTerminating: 30 * time.Minute}}
	var s []attention.Sample
	for i := range 31 {
		p := float64(i)
		s = append(s, attention.Sample{At: t0.Add(time.Duration(i) * 30 * time.Second), Percent: &p})
	}
	task := attention.Task{Now: t0.Add(15 * time.Minute), Status: dcs.StatusFullMigrating, StatusSince: t0, Samples: s}
	b.ReportAllocs()
	for b.Loop() {
		if attention.Detect(c, task).Changed() {
			b.Fatal("opened")
		}
	}
}
