package poller_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/poller"
)

// TestOutageDoesNotFloodLogs: an API outage fails every call the same way.
// The watcher says so in a bounded number of warnings per cycle, whatever
// the number of tasks, and one watch_degraded event per outage.
func TestOutageDoesNotFloodLogs(t *testing.T) {
	const n = 40
	e := newEnv(t, fleet(n, "  - {at: 10s, for: 30s, kind: server_error, task: \"\"}\n"), nil)
	w := e.newWatcher(poller.Options{Discover: true, Detail: poller.DetailEveryCycle, Concurrency: 8})
	if _, err := w.cycleAt(0); err != nil {
		t.Fatal(err)
	}
	w.take()
	before := warnCount(w.logs.String())
	for _, s := range []int{11, 12, 13} {
		st, err := w.cycleAt(time.Duration(s) * time.Second)
		if err == nil || st.Failed != n+1 {
			t.Fatalf("cycle at %ds: failed %d, err %v; want all %d calls failed", s, st.Failed, err, n+1)
		}
	}
	// Per cycle: the list call, the first detail call, one summary.
	if got := warnCount(w.logs.String()) - before; got > 3*3 {
		t.Errorf("%d warnings over 3 cycles of a %d-task outage, want at most 9", got, n)
	}
	if got := countKind(w.take(), "watch_degraded"); got != 1 {
		t.Errorf("%d watch_degraded events, want 1", got)
	}
}

func warnCount(logs string) int {
	n := 0
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && (m["level"] == "warn" || m["level"] == "error") {
			n++
		}
	}
	return n
}
