package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestReloadFallback: SIGHUP onto a valid config that cannot start (its
// nats.listen port is taken): the process stays up, says the reload
// failed and that it went back to the previous config, and keeps polling
// and posting.
func TestReloadFallback(t *testing.T) {
	bin := watcherBinary(t)
	o := sim.FleetOptions{Tasks: 20, Seed: 4, ChangeRate: 3, ChangeFrom: time.Second, ChangeTo: time.Hour}
	r := startFleetRun(t, bin, o, "", 4000)
	testutil.EventuallyWithin(t, 30*time.Second, "some changes posted", func() bool { return len(r.slack.all()) >= 3 })

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	good, err := os.ReadFile(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(good), `listen: "127.0.0.1:0"`, fmt.Sprintf("listen: %q", taken.Addr().String()), 1)
	if bad == string(good) {
		t.Fatal("the config has no nats.listen to change")
	}
	if err := os.WriteFile(r.cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	mark := len(r.logs.String())
	_ = r.w.cmd.Process.Signal(syscall.SIGHUP)
	testutil.EventuallyWithin(t, 30*time.Second, "the reload failed and the previous config running again", func() bool {
		if r.w.exited() {
			t.Fatalf("the watcher exited on a reload that could not start: %v", r.w.err)
		}
		l := r.logs.String()[mark:]
		return strings.Contains(l, "reload failed: the new config does not start; going back to the previous one") &&
			strings.Contains(l, "address already in use") &&
			strings.Contains(l, "reload failed: the watcher runs the previous config again")
	})
	back := len(r.logs.String())
	posts := len(r.slack.all())
	testutil.EventuallyWithin(t, 30*time.Second, "cycles and Slack posts after going back", func() bool {
		return strings.Count(r.logs.String()[back:], `"message":"cycle"`) >= 3 && len(r.slack.all()) >= posts+3
	})
	if r.w.exited() {
		t.Fatalf("the watcher exited: %v", r.w.err)
	}
	r.w.stop(t)
}

// TestReloadStormSlackOrder: three storms of five SIGHUPs 150 ms apart
// while a fleet changes often (embedded NATS). Each reload stops the
// watcher, with Slack batches fetched and not yet posted, and starts it
// again: the stopping lane must hand its batch back so the next one posts
// it at once, before what is behind it. After each storm the lane runs
// again (it delivers, posts arrive); once Slack has caught up, every
// task's posts are in stream order, none missing, none doubled.
func TestReloadStormSlackOrder(t *testing.T) {
	testutil.Long(t, "runs the binary for about two minutes")
	t.Run("embedded", func(t *testing.T) { reloadStorms(t, false) })
	t.Run("external", func(t *testing.T) { reloadStorms(t, true) })
}

// reloadStorms is TestReloadStormSlackOrder on the embedded NATS (each
// reload restarts it) or on an external one.
func reloadStorms(t *testing.T, external bool) {
	bin := watcherBinary(t)
	o := sim.FleetOptions{Tasks: 80, Seed: 15, ChangeRate: 8, ChangeFrom: 3 * time.Second, ChangeTo: 45 * time.Second}
	natsURL := ""
	var srv *server.Server
	if external {
		srv = testutil.RunJetStream(t, -1, t.TempDir())
		natsURL = srv.ClientURL()
	}
	r := startFleetRun(t, bin, o, natsURL, 6000)
	s, slack, w, logs := r.s, r.slack, r.w, r.logs
	var up []upInterval
	from := w.ready
	for storm := range 3 {
		testutil.EventuallyWithin(t, 30*time.Second, "posts flowing before the storm", func() bool {
			return len(slack.all()) >= 20*(storm+1)
		})
		mark := len(logs.String())
		begin := time.Now()
		up = append(up, upInterval{from, begin})
		for range 5 {
			_ = w.cmd.Process.Signal(syscall.SIGHUP)
			time.Sleep(150 * time.Millisecond) // the storm's own pace
		}
		posts := len(slack.all())
		var lane time.Duration
		testutil.EventuallyWithin(t, 30*time.Second, "the watcher and its Slack lane running after the storm", func() bool {
			if w.exited() {
				t.Fatalf("the watcher exited in a reload storm: %v", w.err)
			}
			l := logs.String()[mark:]
			last := strings.LastIndex(l, `"message":"watcher running"`)
			if last < 0 || strings.Contains(l[last:], `"message":"reloading`) {
				return false
			}
			if !strings.Contains(l[last:], "slack: this replica delivers to the destination") || len(slack.all()) <= posts {
				return false
			}
			lane = time.Since(begin)
			return true
		})
		from = time.Now()
		t.Logf("storm %d at %s into the scenario: %d reloads; lane delivering %s after its first SIGHUP",
			storm+1, begin.Sub(s.start).Round(time.Millisecond), strings.Count(logs.String()[mark:], `"message":"reloading`), lane.Round(time.Millisecond))
	}
	up = append(up, upInterval{from, time.Now().Add(time.Hour)})
	// Slack has caught up when it has every postable event the watcher
	// says it published. (caughtUp's reading of the plan cannot tell a
	// status the reloads hid for a cycle from a post still to come.)
	var tr sim.Truth
	quiet := -1 // where the logs were when the fleet was first seen quiet
	testutil.EventuallyWithin(t, 90*time.Second, "the fleet quiet, polled since, and Slack holding every event published", func() bool {
		if quiet < 0 {
			if tr = s.truth(t); !tr.Quiet {
				return false
			}
			quiet = len(logs.String())
		}
		if strings.Count(logs.String()[quiet:], `"message":"cycle"`) < 2 {
			return false // the last changes may not be seen yet
		}
		got := slack.idCounts()
		for _, id := range postableLogged(logs.String()) {
			if got[id] == 0 {
				return false
			}
		}
		return true
	})
	w.stop(t)
	var v storeView
	if external {
		_, js := testutil.Connect(t, srv.ClientURL())
		v = readStore(t, js)
	} else {
		v = readDataDir(t, r.dataDir)
	}
	a := auditRun(s, tr, v, slack.all(), up, nil, true)
	t.Logf("%s; slack consumer ack pending %d, pending %d", a, v.ackPending, v.pending)
	for _, p := range a.problems {
		t.Log(p)
	}
	if f := a.failures(); len(f) > 0 {
		t.Errorf("after three reload storms: %v", f)
	}
}

// postableLogged are the ids of the events of a posted kind that the
// watcher's log says it published.
func postableLogged(logs string) []string {
	var ids []string
	for l := range strings.Lines(logs) {
		var e struct {
			Message, Kind string
			EventID       string `json:"event_id"`
		}
		if json.Unmarshal([]byte(l), &e) == nil && e.Message == "event published" && slackKinds[e.Kind] {
			ids = append(ids, e.EventID)
		}
	}
	return ids
}
