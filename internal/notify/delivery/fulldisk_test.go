package delivery

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

// TestAckedWhenTheMarkCannotBeWritten: Slack takes an event just as the
// disk under JetStream fills, so that its delivery mark cannot be written
// (the marks bucket answers no write; the put waits out its timeout). The
// ack must still be made, on a time budget of its own (a consumer's ack
// needs no disk write): an event left unacked is redelivered once the lane
// is back and, without its mark, posted a second time.
func TestAckedWhenTheMarkCannotBeWritten(t *testing.T) {
	dir := testutil.SmallDisk(t, "size=8m")
	_, js := testutil.Connect(t, testutil.RunJetStream(t, -1, dir).ClientURL())
	ctx := testutil.Context(t, time.Minute)
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: defaults.NATS.Stream, Subjects: []string{prefix + ".>"}, Duplicates: time.Hour,
	}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	got, full := make(chan struct{}), make(chan struct{})
	f := newHook(t, func(n int, _ slack.WebhookMessage) slackhook.Reply {
		if n == 0 {
			close(got)
			<-full // answered once the disk is full
		}
		return slackhook.Reply{Status: 200, Body: "ok"}
	})
	log, logs := newLogger()
	r := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}, Options{Logger: log})
	publish(t, js, statusChanged("e1", "task-1", "RUNNING", "FAILED"))
	<-got
	testutil.FillDisk(t, dir)
	// A block's last page may hold a few more writes: write the marks
	// bucket until it answers none, as it does on a full disk.
	marks, err := js.KeyValue(ctx, defaults.Slack.MarksBucket)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := marks.Put(pctx, fmt.Sprintf("filler-%d", i), make([]byte, 4<<10))
		cancel()
		if err != nil {
			break
		}
		if i == 1000 {
			t.Fatal("the marks bucket takes every write on a full disk")
		}
	}
	close(full)
	testutil.EventuallyWithin(t, 2*finishTimeout, "the mark write given up", func() bool {
		return strings.Contains(logs.String(), "could not record delivery")
	})
	testutil.EventuallyWithin(t, 2*finishTimeout, "the event acked on the full disk", func() bool {
		p, err := r.Pending(ctx)
		return err == nil && p == 0
	})
	if strings.Contains(logs.String(), "ack failed") {
		t.Errorf("the ack failed with the mark: the event will be posted again\n%s", logs.String())
	}
}
