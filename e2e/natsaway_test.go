package e2e

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestNATSAwayBetweenDetectionAndPublish takes NATS away after a change is
// detected and before it can be published: the snapshot must stay put, and
// once NATS is back the change must be published exactly once, on the
// stream and in Slack.
func TestNATSAwayBetweenDetectionAndPublish(t *testing.T) {
	dir := t.TempDir()
	srv := testutil.RunJetStream(t, -1, dir)
	port := srv.Addr().(*net.TCPAddr).Port

	h := newHarness(t, e2eScenario, func(c *config.Config) { c.NATS.URL = srv.ClientURL() })
	h.cycleTimeout = 2 * time.Second
	if _, err := h.cycleAt(0); err != nil {
		t.Fatalf("first cycle: %v", err)
	}

	srv.Shutdown()
	srv.WaitForShutdown()
	// RUNNING -> FULLMIGRATING detected, cannot be stored: journaled (the
	// connection known down, or the write failing on the store).
	_, err := h.cycleAt(10 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "observations journaled") {
		t.Fatalf("cycle without NATS: err = %v, want the observation journaled and the snapshot kept", err)
	}
	if e, _ := h.app.Snaps.Get(project, taskA); e.Task == nil || e.Task.Status != "RUNNING" {
		t.Fatalf("snapshot advanced without an ack: %+v", e.Task)
	}

	srv = testutil.RunJetStream(t, port, dir)
	testutil.Eventually(t, "reconnect", h.app.Broker.Conn.IsConnected)
	for _, s := range []time.Duration{11 * time.Second, 12 * time.Second} {
		if _, err := h.cycleAt(s); err != nil {
			t.Fatalf("cycle at %s after recovery: %v", s, err)
		}
	}
	if e, _ := h.app.Snaps.Get(project, taskA); e.Task == nil || e.Task.Status != "FULLMIGRATING" {
		t.Fatalf("snapshot did not advance after recovery: %+v", e.Task)
	}

	// Long enough for the waits below: Pending fails once ctx has expired.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream, err := h.app.Broker.JS.Stream(ctx, h.cfg.NATS.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter("dcs.migration.*."+taskA+".status_changed.>"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	if n != 1 {
		t.Fatalf("stream holds %d status_changed messages for the task, want exactly 1 (%v)", n, info.State.Subjects)
	}
	testutil.Eventually(t, "the Slack message", func() bool { return len(h.slack.texts()) >= 1 })
	// Give the notifier a chance to double-post before counting: wait until
	// its consumer has nothing pending. A pull request made to the server
	// that went down is answered by nobody until it expires, so delivery may
	// resume some seconds after the reconnect.
	testutil.EventuallyWithin(t, 45*time.Second, "slack consumer drained", func() bool {
		p, err := h.app.Slack.Pending(ctx)
		return err == nil && p == 0
	})
	if got := h.slack.texts(); len(got) != 1 || !strings.Contains(got[0], "FULLMIGRATING") {
		t.Fatalf("slack messages = %q, want exactly the one status change", got)
	}
}
