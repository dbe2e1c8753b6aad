package e2e

import (
	"net"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestExternalNATSDown20s runs the binary against an external NATS that
// goes away for 20 s while the fleet changes, then comes back on the same
// port and store. The stream must then hold continuous chains that end in
// the API's status (snapshots too), nothing doubled, every change that
// held for a while outside the outage; Slack every event once.
func TestExternalNATSDown20s(t *testing.T) {
	testutil.Long(t, "runs the binary for about 70 s")
	bin := watcherBinary(t)
	storeDir := t.TempDir()
	srv := testutil.RunJetStream(t, -1, storeDir)
	port := srv.Addr().(*net.TCPAddr).Port

	o := sim.FleetOptions{Tasks: 100, Seed: 12, ChangeRate: 4, ChangeFrom: 3 * time.Second, ChangeTo: 45 * time.Second}
	r := startFleetRun(t, bin, o, srv.ClientURL(), 4000)
	s, slack, w := r.s, r.slack, r.w

	// The outage starts once changes flow and Slack has posted some.
	testutil.EventuallyWithin(t, 30*time.Second, "some changes posted", func() bool { return len(slack.all()) >= 10 })
	down := time.Now()
	srv.Shutdown()
	srv.WaitForShutdown()
	// The fault lasts 20 s: this wait is its duration, not a guess.
	time.Sleep(20 * time.Second)
	srv = testutil.RunJetStream(t, port, storeDir)
	back := time.Now()
	t.Logf("NATS down from %s to %s into the scenario", down.Sub(s.start).Round(time.Millisecond), back.Sub(s.start).Round(time.Millisecond))

	tr := waitQuietAndDelivered(t, s, slack, 60*time.Second)
	w.stop(t)
	_, js := testutil.Connect(t, srv.ClientURL())
	v := readStore(t, js)
	up := []upInterval{{w.ready, down}, {back, time.Now().Add(time.Hour)}}
	a := auditRun(s, tr, v, slack.all(), up, nil, true)
	t.Logf("%s; slack consumer ack pending %d, pending %d", a, v.ackPending, v.pending)
	for _, p := range a.problems {
		t.Log(p)
	}
	if f := a.failures(); len(f) > 0 {
		t.Errorf("after a 20 s NATS outage: %v", f)
	}
}
