package metrics

import (
	"errors"
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

// TestStoreReadinessAndLiveness: a store that cannot write makes the
// watcher not ready, with its reason, and the store_writable gauge 0; only
// a stuck store makes it not live.
func TestStoreReadinessAndLiveness(t *testing.T) {
	m := New(nil)
	var storeErr, stuckErr error
	m.Attach(Sources{
		NATSConnected: func() bool { return true },
		Store:         func() error { return storeErr },
		StoreStuck:    func() error { return stuckErr },
	})
	m.Cycled(poller.Stats{}, nil)
	gauge := func() float64 {
		t.Helper()
		mfs, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "dcs_watcher_store_writable" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no dcs_watcher_store_writable")
		return 0
	}
	if err := m.Ready(); err != nil || m.Live() != nil || gauge() != 1 {
		t.Fatalf("store writing: Ready() = %v, Live() = %v, gauge %v", err, m.Live(), gauge())
	}
	storeErr = errors.New("JetStream store cannot write (data directory /data, 0 B free)")
	if err := m.Ready(); err == nil || !strings.Contains(err.Error(), "/data, 0 B free") {
		t.Errorf("full disk: Ready() = %v, want the store's reason", err)
	}
	if err := m.Live(); err != nil {
		t.Errorf("full disk: Live() = %v, want nil (a restart frees no space)", err)
	}
	if g := gauge(); g != 0 {
		t.Errorf("full disk: store_writable = %v", g)
	}
	stuckErr = errors.New("store stuck")
	if err := m.Live(); err == nil || err.Error() != "store stuck" {
		t.Errorf("stuck: Live() = %v", err)
	}
	m.Attach(Sources{NATSConnected: func() bool { return true }}) // an external NATS
	if err := m.Live(); err != nil {
		t.Errorf("no store source: Live() = %v", err)
	}
}

// TestSlackSocketGauge: the buttons' socket is a gauge, 1 while up and 0
// while down, and a socket down leaves the watcher ready.
func TestSlackSocketGauge(t *testing.T) {
	m := New(nil)
	up := true
	m.Attach(Sources{NATSConnected: func() bool { return true }, SlackSocket: func() bool { return up }})
	m.Cycled(poller.Stats{}, nil)
	gauge := func() float64 {
		t.Helper()
		mfs, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "dcs_watcher_slack_socket_connected" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no dcs_watcher_slack_socket_connected")
		return 0
	}
	if g := gauge(); g != 1 {
		t.Errorf("socket up: gauge %v", g)
	}
	up = false
	if g, err := gauge(), m.Ready(); g != 0 || err != nil {
		t.Errorf("socket down: gauge %v, Ready() = %v; want 0 and ready", g, err)
	}
}
