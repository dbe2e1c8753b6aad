package poller_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/poller"
)

// plantedPW is a password a log line quotes: it must never leave the
// client.
const plantedPW = "Planted-Redis-Pw-7781"

// attentionEnv is newEnv whose watchers make the stats and logs calls
// with their DCS client.
func attentionEnv(t *testing.T, scenario string) *env {
	e := newEnv(t, scenario, nil)
	e.withClient = func(c *dcs.Client, o *poller.Options) { o.Stats, o.Logs = c, c }
	return e
}

// failing is a task that waits in RUNNING (an ERROR line then, before the
// status it fails from), migrates from 30s with an INFO line and five
// ERROR lines, and fails at 60s with one more quoting a password.
var failing = fmt.Sprintf(`project_id: %s
tasks:
  - id: t1
    steps:
      - {at: 0s, status: RUNNING, logs: [{after: 5s, level: ERROR, message: "an older failure, before this status"}]}
      - at: 30s
        status: MIGRATING
        logs:
          - {after: 1s, message: "full sync started"}
          - {after: 2s, level: ERROR, message: "source lagging"}
          - {after: 4s, level: ERROR, message: "retrying the full sync"}
          - {after: 6s, level: ERROR, message: "sync: replica link lost", code: DCS.M003}
          - {after: 8s, level: ERROR, message: "migration aborted"}
          - {after: 10s, level: ERROR, message: "target refused <b>writes</b> & closed"}
      - at: 60s
        status: MIGRATION_FAILED
        logs: [{after: 0s, level: ERROR, message: "connect to target failed: password=%s rejected", keywords: [auth]}]
%%s`, project, plantedPW)

// TestFailureLogTail: a task that fails gets, in its status_changed event,
// its last 5 ERROR lines since the status it failed from, newest first,
// with a quoted password shown as <secret>; one logs call for the failure
// (the simulator's counter), however many cycles follow and across a
// restart.
func TestFailureLogTail(t *testing.T) {
	e := attentionEnv(t, fmt.Sprintf(failing, ""))
	w := e.newWatcher(poller.Options{Discover: true})
	for _, s := range []int{0, 30, 60, 90, 120} {
		if _, err := w.cycleAt(time.Duration(s) * time.Second); err != nil {
			t.Fatalf("cycle at %ds: %v", s, err)
		}
	}
	w2 := e.newWatcher(poller.Options{Discover: true})
	for _, s := range []int{150, 180} {
		if _, err := w2.cycleAt(time.Duration(s) * time.Second); err != nil {
			t.Fatalf("cycle at %ds: %v", s, err)
		}
	}
	evs := append(w.take(), w2.take()...)
	if s := summary(evs); !slices.Equal(s, []string{"t1:discovered", "t1:status_changed", "t1:status_changed"}) {
		t.Fatalf("published %v", s)
	}
	if n := e.sim.Calls().Logs; n != 1 {
		t.Errorf("%d logs calls, want 1 for the one failure", n)
	}
	if d := evs[1].Data; d.LogTail != nil || d.LogTailError != "" {
		t.Errorf("RUNNING -> MIGRATING carries a log tail: %+v %q", d.LogTail, d.LogTailError)
	}
	d := evs[2].Data
	var got []string
	for _, l := range d.LogTail {
		got = append(got, l.Message)
	}
	want := []string{"connect to target failed: password=<secret> rejected", "target refused <b>writes</b> & closed",
		"migration aborted", "sync: replica link lost", "retrying the full sync"}
	if !slices.Equal(got, want) || d.LogTailError != "" {
		t.Fatalf("log_tail %q (error %q)\nwant      %q", got, d.LogTailError, want)
	}
	if d.LogTail[0].Level != "ERROR" || !d.LogTail[0].Time.Equal(e.t0.Add(60*time.Second)) || d.LogTail[3].Code != "DCS.M003" {
		t.Errorf("first line %+v, fourth %+v: want ERROR at t0+60s, code DCS.M003", d.LogTail[0], d.LogTail[3])
	}
	stream, err := e.js.Stream(e.ctx, streamName)
	if err != nil {
		t.Fatal(err)
	}
	body, err := stream.GetLastMsgForSubject(e.ctx, filter("t1", "status_changed"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body.Data), plantedPW) || strings.Contains(w.logs.String(), plantedPW) || strings.Contains(w2.logs.String(), plantedPW) {
		t.Errorf("the planted password reached the stream or the log")
	}
	if !strings.Contains(string(body.Data), `"log_tail":[`) {
		t.Errorf("stored event has no log_tail: %s", body.Data)
	}
}

// TestFailureLogTailSince: the ERROR lines from before the status the task
// failed from are not its failure's.
func TestFailureLogTailSince(t *testing.T) {
	e := attentionEnv(t, fmt.Sprintf(`project_id: %s
tasks:
  - id: t1
    steps:
      - {at: 0s, status: RUNNING, logs: [{after: 5s, level: ERROR, message: "an older failure, before this status"}]}
      - {at: 30s, status: MIGRATING, logs: [{after: 20s, level: ERROR, message: "migration aborted"}]}
      - {at: 60s, status: FAILED}
`, project))
	w := e.newWatcher(poller.Options{Discover: true})
	for _, s := range []int{0, 30, 60} {
		if _, err := w.cycleAt(time.Duration(s) * time.Second); err != nil {
			t.Fatalf("cycle at %ds: %v", s, err)
		}
	}
	evs := w.take()
	if len(evs) != 3 || len(evs[2].Data.LogTail) != 1 || evs[2].Data.LogTail[0].Message != "migration aborted" {
		t.Fatalf("events %v, want the failure with only the line since MIGRATING began", summary(evs))
	}
}

// TestFailureLogTailCallFails: a logs call that fails leaves the failure
// without a tail, says its class, and the event is published all the same.
func TestFailureLogTailCallFails(t *testing.T) {
	e := attentionEnv(t, fmt.Sprintf(failing, "faults:\n  - {at: 0s, for: 10m, kind: server_error, task: t1, call: logs}\n"))
	w := e.newWatcher(poller.Options{Discover: true})
	for _, s := range []int{0, 30, 60, 90} {
		if _, err := w.cycleAt(time.Duration(s) * time.Second); err != nil {
			t.Fatalf("cycle at %ds: %v", s, err)
		}
	}
	evs := w.take()
	if s := summary(evs); !slices.Equal(s, []string{"t1:discovered", "t1:status_changed", "t1:status_changed"}) {
		t.Fatalf("published %v", s)
	}
	d := evs[2].Data
	if len(d.LogTail) != 0 || d.LogTailError != dcs.Class(dcs.ErrRetryable) {
		t.Errorf("log_tail %v, log_tail_error %q; want none, %q", d.LogTail, d.LogTailError, dcs.Class(dcs.ErrRetryable))
	}
	if n := e.sim.Calls().Logs; n != 1 {
		t.Errorf("%d logs calls, want 1 (a failed one is not retried every cycle)", n)
	}
}
