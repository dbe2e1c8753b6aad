package poller_test

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/poller"
)

// TestOutboxPublishesStoredBytes: the bytes an outbox holds are the bytes
// published, as they are. The discovered event's publish fails, so the
// record keeps it; its body is then given a field this version does not
// know (an outbox written by a newer replica during a rolling upgrade).
// The next cycle settles it: the stream message is the stored body byte
// for byte, the unknown field included, and it is published once.
func TestOutboxPublishesStoredBytes(t *testing.T) {
	e := newEnv(t, oneTask("[{at: 0s, status: FULLMIGRATING}]"), nil)
	var down atomic.Bool
	down.Store(true)
	w := e.newWatcherWith(poller.Options{Discover: true}, func(p poller.Publisher) poller.Publisher {
		return &failingPublisher{Publisher: p, fail: func(notify.Envelope) error {
			if down.Load() {
				return errors.New("NATS away (test)")
			}
			return nil
		}}
	})
	if _, err := w.cycleAt(0); err == nil {
		t.Fatal("first cycle: no error, want the failed publish")
	}
	ent, _ := w.snaps.Get(project, "t1")
	if len(ent.Pending) != 1 {
		t.Fatalf("record owes %d events, want the discovered one", len(ent.Pending))
	}
	rec := ent.Record
	out := rec.Pending[0]
	body := bytes.Replace(out.Body, []byte(`"data":{`), []byte(`"data":{"x_later_field":"kept",`), 1)
	if bytes.Equal(body, out.Body) {
		t.Fatalf("stored body has no data object: %s", out.Body)
	}
	rec.Pending[0].Body = body
	if err := w.snaps.Put(e.ctx, project, "t1", rec); err != nil {
		t.Fatal(err)
	}

	down.Store(false)
	if _, err := w.cycleAt(0); err != nil {
		t.Fatalf("second cycle: %v", err)
	}
	s, err := e.js.Stream(e.ctx, streamName)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetLastMsgForSubject(e.ctx, out.Subject)
	if err != nil {
		t.Fatalf("event on %s: %v", out.Subject, err)
	}
	if !bytes.Equal(msg.Data, body) {
		t.Errorf("published\n%s\nwant the stored bytes\n%s", msg.Data, body)
	}
	if got := msg.Header.Get("Nats-Msg-Id"); got != out.ID {
		t.Errorf("message id %q, want %q", got, out.ID)
	}
	if n := e.count(out.Subject); n != 1 {
		t.Errorf("stream holds %d messages on %s, want 1", n, out.Subject)
	}
	if got := summary(w.take()); len(got) != 1 || got[0] != "t1:discovered" {
		t.Errorf("Published heard %v, want [t1:discovered]", got)
	}
	if ent, _ := w.snaps.Get(project, "t1"); len(ent.Pending) != 0 {
		t.Errorf("record still owes %d events", len(ent.Pending))
	}
}
