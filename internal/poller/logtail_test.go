package poller_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/poller"
)

// plantedPW is a password a log line quotes: it must never leave the
// client.
const plantedPW = "Planted-Redis-Pw-7781"

// sideAPI answers the stats and logs calls in front of the simulator (which
// answers the rest), in the API's wire format: stats from a curve over the
// shared clock, logs from one page of lines, filtered by log_level as the
// API does. It counts the calls.
type sideAPI struct {
	clk   func() time.Time
	t0    time.Time
	curve func(since time.Duration) (pct string, lag string) // "": field left out
	logs  []logLine
	// status, when set, answers the logs call with it instead.
	status int

	statsCalls, logCalls atomic.Int64
	mu                   sync.Mutex
	levels               []string
}

type logLine struct {
	at         time.Duration // since t0
	level, msg string
	code       string
	keyword    string
}

func (s *sideAPI) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/stats") && s.curve != nil:
			s.statsCalls.Add(1)
			pct, lag := s.curve(s.clk().Sub(s.t0))
			var f []string
			if pct != "" {
				f = append(f, fmt.Sprintf("%q: %q", "full_migration_progress", pct))
			}
			if lag != "" {
				f = append(f, fmt.Sprintf("%q: %q", "offset", lag))
			}
			f = append(f, `"source_dbsize": "1048576", "is_migrating": true`)
			fmt.Fprintf(w, "{%s}", strings.Join(f, ", "))
		case strings.HasSuffix(r.URL.Path, "/logs"):
			s.logCalls.Add(1)
			level := r.URL.Query().Get("log_level")
			s.mu.Lock()
			s.levels = append(s.levels, level)
			s.mu.Unlock()
			if s.status != 0 {
				w.WriteHeader(s.status)
				fmt.Fprint(w, `{"error_code": "DCS.5000", "error_msg": "internal error"}`)
				return
			}
			var lines []string
			for _, l := range s.logs {
				if level == "" || l.level == level {
					lines = append(lines, fmt.Sprintf(`{"created_at": %q, "log_level": %q, "message": %q, "log_code": %q, "keyword": [%q]}`,
						s.t0.Add(l.at).Format(time.RFC3339), l.level, l.msg, l.code, l.keyword))
				}
			}
			fmt.Fprintf(w, `{"log_num": %d, "migration_logs": [%s]}`, len(lines), strings.Join(lines, ", "))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// sideEnv is newEnv with side in front of the simulator, and watchers
// that make the stats and logs calls with their DCS client.
func sideEnv(t *testing.T, scenario string, side *sideAPI) *env {
	e := newEnv(t, scenario, side.wrap)
	side.clk, side.t0 = e.clk.Now, e.t0
	e.withClient = func(c *dcs.Client, o *poller.Options) { o.Stats, o.Logs = c, c }
	return e
}

// failureLogs are a failed task's log lines, in no particular order: one
// ERROR line from before the status the task failed from, one INFO line,
// six ERROR lines since, one quoting a password.
var failureLogs = []logLine{
	{at: 25 * time.Second, level: "ERROR", msg: "sync: replica link lost", code: "DCS.M003"},
	{at: -10 * time.Minute, level: "ERROR", msg: "an older failure, before this status"},
	{at: 10 * time.Second, level: "INFO", msg: "full sync started"},
	{at: 15 * time.Second, level: "ERROR", msg: "source lagging"},
	{at: 55 * time.Second, level: "ERROR", msg: "connect to target failed: password=" + plantedPW + " rejected", keyword: "auth"},
	{at: 20 * time.Second, level: "ERROR", msg: "retrying the full sync"},
	{at: 45 * time.Second, level: "ERROR", msg: "target refused <b>writes</b> & closed"},
	{at: 35 * time.Second, level: "ERROR", msg: "migration aborted"},
}

// TestFailureLogTail: a task that fails gets, in its status_changed event,
// its last 5 ERROR lines since the status it failed from, newest first,
// with a quoted password shown as <secret>; one logs call for the failure,
// however many cycles follow and across a restart.
func TestFailureLogTail(t *testing.T) {
	side := &sideAPI{logs: failureLogs}
	e := sideEnv(t, oneTask("[{at: 0s, status: MIGRATING}, {at: 60s, status: MIGRATION_FAILED}]"), side)
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
	if s := summary(evs); !slices.Equal(s, []string{"t1:discovered", "t1:status_changed"}) {
		t.Fatalf("published %v", s)
	}
	if n := side.logCalls.Load(); n != 1 {
		t.Errorf("%d logs calls, want 1 for the one failure", n)
	}
	if side.levels[0] != "ERROR" {
		t.Errorf("logs call asked for level %q, want ERROR", side.levels[0])
	}
	d := evs[1].Data
	var got []string
	for _, l := range d.LogTail {
		got = append(got, l.Message)
	}
	want := []string{"connect to target failed: password=<secret> rejected", "target refused <b>writes</b> & closed",
		"migration aborted", "sync: replica link lost", "retrying the full sync"}
	if !slices.Equal(got, want) || d.LogTailError != "" {
		t.Fatalf("log_tail %q (error %q)\nwant      %q", got, d.LogTailError, want)
	}
	if d.LogTail[0].Level != "ERROR" || !d.LogTail[0].Time.Equal(e.t0.Add(55*time.Second)) || d.LogTail[3].Code != "DCS.M003" {
		t.Errorf("first line %+v, fourth %+v: want ERROR at t0+55s, code DCS.M003", d.LogTail[0], d.LogTail[3])
	}
	stream, err := e.js.Stream(e.ctx, streamName)
	if err != nil {
		t.Fatal(err)
	}
	body, err := stream.GetLastMsgForSubject(e.ctx, filter("t1", "status_changed"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body.Data), plantedPW) || strings.Contains(w.logs.String(), plantedPW) {
		t.Errorf("the planted password reached the stream or the log")
	}
	if !strings.Contains(string(body.Data), `"log_tail":[`) {
		t.Errorf("stored event has no log_tail: %s", body.Data)
	}
}

// TestFailureLogTailCallFails: a logs call that fails leaves the failure
// without a tail, says its class, and the event is published all the same.
func TestFailureLogTailCallFails(t *testing.T) {
	side := &sideAPI{logs: failureLogs, status: http.StatusInternalServerError}
	e := sideEnv(t, oneTask("[{at: 0s, status: MIGRATING}, {at: 60s, status: FAILED}]"), side)
	w := e.newWatcher(poller.Options{Discover: true})
	for _, s := range []int{0, 60, 90} {
		if _, err := w.cycleAt(time.Duration(s) * time.Second); err != nil {
			t.Fatalf("cycle at %ds: %v", s, err)
		}
	}
	evs := w.take()
	if s := summary(evs); !slices.Equal(s, []string{"t1:discovered", "t1:status_changed"}) {
		t.Fatalf("published %v", s)
	}
	d := evs[1].Data
	if len(d.LogTail) != 0 || d.LogTailError != dcs.Class(dcs.ErrRetryable) {
		t.Errorf("log_tail %v, log_tail_error %q; want none, %q", d.LogTail, d.LogTailError, dcs.Class(dcs.ErrRetryable))
	}
	if n := side.logCalls.Load(); n != 1 {
		t.Errorf("%d logs calls, want 1 (a failed one is not retried every cycle)", n)
	}
}

// TestFailureLogTailSince: the lines from before the status the task
// failed from are not its failure's.
func TestFailureLogTailSince(t *testing.T) {
	side := &sideAPI{logs: []logLine{
		{at: -time.Minute, level: "ERROR", msg: "an older failure, before this status"},
		{at: 50 * time.Second, level: "ERROR", msg: "migration aborted"},
	}}
	e := sideEnv(t, oneTask("[{at: 0s, status: MIGRATING}, {at: 60s, status: MIGRATION_FAILED}]"), side)
	w := e.newWatcher(poller.Options{Discover: true})
	for _, s := range []int{0, 60} {
		if _, err := w.cycleAt(time.Duration(s) * time.Second); err != nil {
			t.Fatalf("cycle at %ds: %v", s, err)
		}
	}
	evs := w.take()
	if len(evs) != 2 || len(evs[1].Data.LogTail) != 1 || evs[1].Data.LogTail[0].Message != "migration aborted" {
		t.Fatalf("events %v, want the failure with only the line since MIGRATING began", evs)
	}
}
