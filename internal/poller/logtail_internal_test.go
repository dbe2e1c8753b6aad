package poller

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/state"
)

// TestSpendLogs: a cycle's logs calls come out of its stats calls when a
// budget bounds them, the last picked first; without a budget they cost
// the stats calls nothing.
func TestSpendLogs(t *testing.T) {
	stats := []string{"a", "b", "c", "d"}
	for _, tc := range []struct {
		left, logs int
		want       []string
	}{
		{left: -1, logs: 3, want: stats},     // no budget
		{left: 4, logs: 0, want: stats},      // no logs calls
		{left: 4, logs: 1, want: stats[:3]},  // one logs call: the last stats call waits
		{left: 6, logs: 1, want: stats},      // room for both
		{left: 4, logs: 9, want: []string{}}, // more logs calls than room
	} {
		if got := spendLogs(slices.Clone(stats), tc.left, tc.logs); !slices.Equal(got, tc.want) {
			t.Errorf("spendLogs(left %d, logs %d) = %v, want %v", tc.left, tc.logs, got, tc.want)
		}
	}
}

func TestClip(t *testing.T) {
	s := strings.Repeat("é", 1000) // 2 bytes each
	got := clip(s, 1001)
	if len(got) > 1001 || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("clip: %d bytes, valid %v, %q at the end", len(got), utf8.ValidString(got), got[len(got)-6:])
	}
	if clip("short", 10) != "short" {
		t.Errorf("clip cut a short string")
	}
}

// TestLogTailOncePerChange: a failure derived again against the same
// revision (its write failed, or lost a compare-and-swap) reuses the tail
// fetched for it; a later change of the task makes a new call.
func TestLogTailOncePerChange(t *testing.T) {
	var calls atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		fmt.Fprintf(w, `{"log_num": 1, "migration_logs": [{"created_at": "2026-03-01T12:00:00Z", "log_level": "ERROR", "message": "call %d"}]}`, calls.Load())
	}))
	defer api.Close()
	client, err := dcs.New(dcs.Options{Endpoint: api.URL, ProjectID: "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
		Credentials: dcs.Credentials{AK: "INTERNALTESTAK000001", SK: "internal-test-sk-00001"}})
	if err != nil {
		t.Fatal(err)
	}
	c := &cycle{p: &Poller{o: Options{Logs: client}}}
	failed := diff.Diff(&dcs.Task{ID: "t1", Status: "MIGRATING"}, &dcs.Task{ID: "t1", Status: "FAILED"})
	tail := func(rev uint64) string {
		evs := c.withLogTail(t.Context(), "t1", state.Entry{Revision: rev}, failed)
		if len(evs[0].LogTail) != 1 {
			t.Fatalf("revision %d: log tail %+v (error %q)", rev, evs[0].LogTail, evs[0].LogTailError)
		}
		return evs[0].LogTail[0].Message
	}
	first, again, later := tail(7), tail(7), tail(9)
	if calls.Load() != 2 || first != "call 1" || again != "call 1" || later != "call 2" {
		t.Errorf("%d logs calls, tails %q %q %q; want 2 calls, the first tail twice, then a new one", calls.Load(), first, again, later)
	}
	if failed[0].LogTail != nil {
		t.Errorf("withLogTail changed the caller's events")
	}
}
