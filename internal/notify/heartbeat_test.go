package notify_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// TestHeartbeatIDs: a heartbeat's id hashes the replica, its start and its
// sequence number: the same three give the same id (a publish repeated
// after a lost ack is a duplicate), any other differs.
func TestHeartbeatIDs(t *testing.T) {
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	hb := event.HeartbeatData{Replica: "host-1-0a1b2c3d", Started: start, Seq: 1}
	id := func(edit func(*event.HeartbeatData)) string {
		h := hb
		edit(&h)
		return notify.Heartbeat(prefix, region, start.Add(time.Minute), h).ID
	}
	base := id(func(*event.HeartbeatData) {})
	if again := notify.Heartbeat(prefix, region, start.Add(time.Hour), hb).ID; again != base {
		t.Errorf("the same heartbeat sent later has id %s, first %s", again, base)
	}
	for what, edit := range map[string]func(*event.HeartbeatData){
		"next seq":      func(h *event.HeartbeatData) { h.Seq = 2 },
		"other replica": func(h *event.HeartbeatData) { h.Replica = "host-2-0a1b2c3d" },
		"restarted":     func(h *event.HeartbeatData) { h.Started = start.Add(time.Second) },
	} {
		if id(edit) == base {
			t.Errorf("%s: same id %s", what, base)
		}
	}
	env := notify.Heartbeat(prefix, region, start, hb)
	if env.NATSSubject != prefix+"._watcher.heartbeat" || env.Subject != hb.Replica || env.Type != "com.huaweicloud.dcs.migration.heartbeat.v1" {
		t.Errorf("subject %q, CloudEvents subject %q, type %q", env.NATSSubject, env.Subject, env.Type)
	}
}

// TestHeartbeatSize measures a heartbeat's body: under 1 KiB for a replica
// of one project, and what each further project adds.
func TestHeartbeatSize(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 2, 0, 123456789, time.UTC)
	size := func(n int) int {
		hb := event.HeartbeatData{Version: "v1.4.0", Replica: "watcher-1-4f1c-0a1b2c3d", Started: at.Add(-time.Hour), Seq: 63, Replicas: 2,
			Projects: []event.HeartbeatProject{}}
		for i := range n {
			last := at.Add(-time.Duration(i+1) * 987654321)
			hb.Projects = append(hb.Projects, event.HeartbeatProject{ProjectID: fmt.Sprintf("%032x", i+1), Region: "cn-north-4", LastSuccess: &last})
		}
		b, err := json.Marshal(notify.Heartbeat("dcs.migration", "cn-north-4", at, hb))
		if err != nil {
			t.Fatal(err)
		}
		return len(b)
	}
	none, one, ten := size(0), size(1), size(10)
	if one >= 1024 {
		t.Errorf("a heartbeat of one project is %d bytes, want under 1 KiB", one)
	}
	t.Logf("heartbeat body: %d bytes with no project, %d with one, %d with ten (%d per further project)", none, one, ten, (ten-one)/9)
}
