package notify_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/notify"
)

// A stream deleted under a running watcher is recreated by the next
// publish, which then lands in it; the recreation is reported once,
// whoever meets the missing stream, and a report that publishes (the
// watcher's watch_degraded event) reaches the new stream too.
func TestPublishRecreatesADeletedStream(t *testing.T) {
	js := startJS(t)
	so := notify.StreamOptions{Name: stream, Prefix: prefix, Duplicates: time.Minute}
	ensure(t, js, so)
	var mu sync.Mutex
	var reports []string
	var pub *notify.Publisher
	pub = notify.NewPublisher(js, notify.PublisherOptions{Stream: stream, Prefix: prefix, Region: region,
		Recreate: so,
		OnRecreate: func(ctx context.Context, what string, cause error) {
			mu.Lock()
			reports = append(reports, what+": "+cause.Error())
			mu.Unlock()
			env := envelope("FAILED")
			env.ID = "report-" + env.ID
			if err := pub.Publish(ctx, env); err != nil {
				t.Errorf("publish from the report: %v", err)
			}
		}})
	if err := pub.Publish(ctxT(t), envelope("RUNNING")); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctxT(t), stream); err != nil {
		t.Fatalf("delete stream: %v", err)
	}

	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			env := envelope("INCRMIGEATING")
			env.ID += string(rune('a' + i))
			errs[i] = pub.Publish(ctxT(t), env)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("publish %d after the stream was deleted: %v", i, err)
		}
	}
	mu.Lock()
	got := append([]string(nil), reports...)
	mu.Unlock()
	if len(got) != 1 || !strings.Contains(got[0], "stream "+stream) {
		t.Fatalf("reports = %q, want one naming the stream", got)
	}
	if n := msgs(t, js); n != 9 {
		t.Fatalf("recreated stream holds %d messages, want the 8 events and the report", n)
	}
	if cfg := ensure(t, js, so); cfg.Duplicates != time.Minute {
		t.Fatalf("recreated stream's duplicate window = %s, want the configured one", cfg.Duplicates)
	}
}

// Without Recreate the publisher reports the missing stream as an error
// and creates nothing: recreating is the watcher's decision.
func TestPublishWithoutRecreateFails(t *testing.T) {
	js := startJS(t)
	ensure(t, js, notify.StreamOptions{Name: stream, Prefix: prefix})
	pub := notify.NewPublisher(js, notify.PublisherOptions{Stream: stream, Prefix: prefix, Region: region})
	if err := js.DeleteStream(ctxT(t), stream); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctxT(t), envelope("FAILED")); err == nil {
		t.Fatal("publish into a deleted stream succeeded")
	}
	if _, err := js.Stream(ctxT(t), stream); err == nil {
		t.Fatal("the stream was recreated without Recreate")
	}
}
