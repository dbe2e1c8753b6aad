package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/poller"
)

// TestReady: NATS must be up; a replica that leads (or runs without
// leases) also needs a successful cycle within three intervals; a standby
// (leases on, none held) needs only NATS.
func TestReady(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	now := t0
	m := New(func() time.Time { return now })
	if err := m.SetSchedule("@every 10s"); err != nil {
		t.Fatal(err)
	}
	up, held := true, 0
	attach := func(leases bool) {
		s := Sources{NATSConnected: func() bool { return up }}
		if leases {
			s.Leases = func() (int, int) { return held, 2 }
		}
		m.Attach(s)
	}
	want := func(what, errPart string) {
		t.Helper()
		err := m.Ready()
		switch {
		case errPart == "" && err != nil:
			t.Errorf("%s: not ready: %v", what, err)
		case errPart != "" && (err == nil || !strings.Contains(err.Error(), errPart)):
			t.Errorf("%s: Ready() = %v, want an error saying %q", what, err, errPart)
		}
	}

	attach(false)
	want("no cycle yet", "no successful cycle yet")
	m.Cycled(poller.Stats{}, nil)
	want("after a cycle", "")
	now = t0.Add(31 * time.Second)
	want("cycle older than three intervals", "more than three intervals")

	attach(true)
	want("standby with an old cycle", "")
	up = false
	want("standby without NATS", "NATS not connected")
	up, held = true, 1
	want("leader with an old cycle", "more than three intervals")
	m.Cycled(poller.Stats{}, nil)
	want("leader after a cycle", "")
}
