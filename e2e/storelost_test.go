package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestStoreDeletedUnderTheWatcher deletes the events stream, then the
// snapshot bucket, under a running watcher (an operator's `nats stream
// rm`, `nats kv rm`). Each time the watcher must notice at its next write,
// recreate what is missing, log an error naming it and publish
// watch_degraded and watch_recovered events that say so (and Slack must
// get them): never silence. The bucket is refilled from memory: no task is
// discovered again, every snapshot ends in the API's status, and the
// chains in the recreated stream are continuous.
func TestStoreDeletedUnderTheWatcher(t *testing.T) {
	bin := watcherBinary(t)
	srv := testutil.RunJetStream(t, -1, t.TempDir())
	_, admin := testutil.Connect(t, srv.ClientURL())

	o := sim.FleetOptions{Tasks: 40, Seed: 13, ChangeRate: 2, ChangeFrom: 3 * time.Second, ChangeTo: 30 * time.Second}
	r := startFleetRun(t, bin, o, srv.ClientURL(), 6000)
	s, slack, w, logs := r.s, r.slack, r.w, r.logs

	// Delete the stream once Slack has posted every change so far, so that
	// nothing unposted is lost with it.
	testutil.EventuallyWithin(t, 30*time.Second, "some changes, all posted", func() bool {
		v := readStore(t, admin)
		return len(slack.all()) >= 5 && covered(v, slack)
	})
	ctx := testutil.Context(t, 2*time.Minute)
	deleted := time.Now()
	if err := admin.DeleteStream(ctx, "DCS_MIGRATION"); err != nil {
		t.Fatalf("delete stream: %v", err)
	}
	waitStoreReport(ctx, t, admin, slack, logs, "stream DCS_MIGRATION")

	if err := admin.DeleteKeyValue(ctx, "dcs_watcher_snapshots"); err != nil {
		t.Fatalf("delete bucket: %v", err)
	}
	waitStoreReport(ctx, t, admin, slack, logs, "kv bucket dcs_watcher_snapshots")

	tr := waitQuietAndDelivered(t, s, slack, 60*time.Second)
	w.stop(t)
	v := readStore(t, admin)
	// The posts of the events the deleted stream held are not audited
	// against the new one: those posted before the deletion, and those
	// the watcher published before it found the stream missing (the
	// Slack consumer may post one it had pulled just after the deletion).
	old := publishedBefore(logs.String(), "JetStream store missing")
	var posts []slackPost
	for _, p := range slack.all() {
		if p.at.After(deleted) && !allIn(p.ids, old) {
			posts = append(posts, p)
		}
	}
	a := auditRun(s, tr, v, posts, nil, nil, false)
	t.Logf("%s", a)
	for _, p := range a.problems {
		t.Log(p)
	}
	if f := a.failures(); len(f) > 0 {
		t.Errorf("after the store was deleted: %v", f)
	}
	for _, e := range v.events {
		if e.env.Data.Kind == "discovered" {
			t.Errorf("task %s discovered again after the store was recreated (seq %d)", e.env.Data.TaskID, e.seq)
		}
	}
	if len(v.snaps) != o.Tasks {
		t.Errorf("the recreated bucket holds %d task snapshots, want %d", len(v.snaps), o.Tasks)
	}
}

// waitStoreReport waits for what the watcher must do about a missing
// store: an error log line naming it, and watch_degraded then
// watch_recovered events about it on the (possibly recreated) stream, both
// posted to Slack.
func waitStoreReport(ctx context.Context, t *testing.T, admin jetstream.JetStream, slack *slackServer, logs *testutil.SyncBuffer, what string) {
	t.Helper()
	testutil.EventuallyWithin(t, 30*time.Second, "the report of the missing "+what, func() bool {
		if _, err := admin.Stream(ctx, "DCS_MIGRATION"); err != nil {
			return false
		}
		var degraded, recovered string
		for _, e := range readStore(t, admin).events {
			switch d := e.env.Data; {
			case d.Kind == "watch_degraded" && strings.Contains(d.Reason, what):
				degraded = e.env.ID
				if !strings.Contains(e.subject, "._store.watch_degraded.NONE") {
					t.Fatalf("store report on subject %s", e.subject)
				}
			case d.Kind == "watch_recovered" && degraded != "" && strings.Contains(d.Reason, "store"):
				recovered = e.env.ID
			}
		}
		posted := slack.idCounts()
		logged := false
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `"level":"error"`) && strings.Contains(l, what) {
				logged = true
			}
		}
		return logged && degraded != "" && recovered != "" && posted[degraded] == 1 && posted[recovered] == 1
	})
}

// publishedBefore are the ids of the events the watcher's logs say it
// published before the first line holding marker.
func publishedBefore(logs, marker string) map[string]bool {
	ids := map[string]bool{}
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, marker) {
			break
		}
		var m struct {
			Message string `json:"message"`
			EventID string `json:"event_id"`
		}
		if json.Unmarshal([]byte(l), &m) == nil && m.Message == "event published" {
			ids[m.EventID] = true
		}
	}
	return ids
}

func allIn(ids []string, set map[string]bool) bool {
	for _, id := range ids {
		if !set[id] {
			return false
		}
	}
	return len(ids) > 0
}
