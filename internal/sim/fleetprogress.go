package sim

import (
	"math/rand/v2"
	"time"
)

// fleetProgress gives every step of a generated fleet the progress its
// status implies, and every failure its ERROR log lines. It draws from its
// own random stream of the seed, so the fleet's ids and change plan are
// those the seed gave before progress existed.
//
//   - FULLMIGRATING: percent ramps to 100 over 20 min to 3 h of scenario
//     time, from a random start on the first step (a sync under way when the
//     simulator starts), from 0 after a restart; a fixed size, rate and ops.
//   - INCRMIGEATING: percent 100, a small lag (0 to 200), a modest rate.
//   - FAILED: is_migrating false, no rate, the percent held where it
//     stopped; two or three ERROR lines, the step's error_message first.
//   - RUNNING: percent 0, no rate.
func fleetProgress(seed uint64, sc *Scenario) {
	rng := rand.New(rand.NewPCG(seed, 0xda942042e4dd58b5))
	for i := range sc.Tasks {
		t := &sc.Tasks[i]
		size := float64(50_000 + rng.IntN(5_000_000))
		for j := range t.Steps {
			st := &t.Steps[j]
			if st.Status == nil {
				continue
			}
			st.Progress, st.Logs = stepProgress(rng, *st.Status, j == 0, size, st.ErrorMessage)
		}
	}
}

func stepProgress(rng *rand.Rand, status string, first bool, size float64, reason *string) (*Progress, []LogLine) {
	switch status {
	case "FULLMIGRATING":
		from := 0.0
		if first {
			from = float64(rng.IntN(50))
		}
		over := 20*time.Minute + time.Duration(rng.Int64N(int64(160*time.Minute)))
		return &Progress{
			Percent:      &Curve{From: from, To: 100, Over: over},
			SourceDBSize: constant(size),
			Kbps:         constant(float64(1024 + rng.IntN(8192))),
			Ops:          constant(float64(500 + rng.IntN(5000))),
			Lag:          constant(0),
		}, nil
	case "INCRMIGEATING":
		return &Progress{
			Percent:      constant(100),
			SourceDBSize: constant(size),
			Lag:          constant(float64(rng.IntN(201))),
			Kbps:         constant(float64(16 + rng.IntN(512))),
			Ops:          constant(float64(10 + rng.IntN(900))),
		}, nil
	case "FAILED":
		no := false
		p := &Progress{Migrating: &no, Kbps: constant(0), Ops: constant(0)}
		msg := failures[rng.IntN(len(failures))]
		if reason != nil && *reason != "" {
			msg = *reason
		}
		logs := []LogLine{{Level: "ERROR", Message: msg, Code: "DCS.MIG.1001"}}
		for k, n := 0, 1+rng.IntN(2); k < n; k++ {
			logs = append(logs, LogLine{
				After:   time.Duration(k+1) * time.Second,
				Level:   "ERROR",
				Message: failureContext[rng.IntN(len(failureContext))],
				Code:    "DCS.MIG.1002",
			})
		}
		return p, logs
	case "RUNNING":
		return &Progress{Percent: constant(0), Kbps: constant(0), Ops: constant(0)}, nil
	}
	return nil, nil
}

func constant(v float64) *Curve { return &Curve{From: v, To: v} }

var failureContext = []string{
	"The migration ECS lost its connection to the source Redis; 3 reconnection attempts failed.",
	"Full synchronization aborted: the RDB transfer from the source stopped at offset 1073741824.",
	"Replication stream closed by the source: client output buffer limit for replicas reached.",
	"The target rejected a write: READONLY You can't write against a read only replica.",
	"The migration task stopped after an unrecoverable error; restart the task to retry.",
}

// failures are the error messages of a generated fleet's failed tasks.
var failures = []string{
	"Failed to connect to the source Redis: connection timed out.",
	"The source Redis refused the SYNC command: NOAUTH Authentication required.",
	"The target instance is out of memory: OOM command not allowed.",
	"Incremental sync broke off: the replication backlog was overwritten.",
}
