package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

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
