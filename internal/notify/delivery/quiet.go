package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// verdict is what the no-noise rule says of an event.
type verdict int

const (
	pass  verdict = iota // post it as usual
	later                // handed back to JetStream with a delay: not yet
	drop                 // acked, never posted
)

// The states of a blindness episode's record, per destination.
const (
	blindHeld      = "held"      // its watch_degraded waits for Due
	blindPosting   = "posting"   // its watch_degraded is due: posted, or being posted
	blindCancelled = "cancelled" // its watch_recovered came first: neither posts
)

// blindRecord is the no-noise rule's record of one blindness episode for
// one destination, in the marks bucket under blindness.key. It is what lets
// replicas and restarts agree: every change is a compare-and-swap on its
// revision, so the watch_degraded that claims "posting" and the
// watch_recovered that claims "cancelled" cannot both win.
type blindRecord struct {
	State string    `json:"state"`
	Due   time.Time `json:"due,omitzero"`
	// EventID is the episode's watch_degraded: a task has one episode at
	// a time, so a watch_degraded with another id starts the next one and
	// replaces the record.
	EventID string `json:"event_id"`
}

// blindness is the no-noise rule (slack.degraded_for) of one lane, over
// the records it keeps in the marks bucket kv.
type blindness struct {
	kv          jetstream.KeyValue
	lane        string
	degradedFor time.Duration
	now         func() time.Time
}

// applies says whether the rule judges an event of this lane, and decide
// judges it. A watch_degraded posts only once its blindness has lasted
// DegradedFor (measured from the event's time, so a restart or another
// replica reckons the same): until then it is handed back to JetStream
// with NakWithDelay, which keeps it in the stream, unacked, and brings it
// back when due. Its watch_recovered posts only if the degraded one did;
// one that ends the episode first cancels both. Other events, the report
// of a recreated store (a one-off, published with its recovery: the rule
// would always cancel it), and every event with DegradedFor 0, are sent.
func (b blindness) applies(d notify.Data) bool {
	return b.degradedFor > 0 && (d.Kind == diff.WatchDegraded || d.Kind == diff.WatchRecovered) && d.Scope != diff.ScopeStore
}

// decide reads the episode's record and judges it; jetstream.ErrKeyExists
// says another replica wrote first: read again and decide anew.
func (b blindness) decide(ctx context.Context, it *item) (verdict, error) {
	key := b.key(it.env.Data)
	rec, rev, err := b.read(ctx, key)
	if err != nil {
		return pass, err
	}
	if it.env.Data.Kind == diff.WatchDegraded {
		return b.degraded(ctx, it, key, rec, rev)
	}
	switch {
	case rec == nil || (rec.State == blindHeld && rec.Due.After(it.env.Time)):
		// The degraded one was not posted and now never will be: the
		// blindness ended within DegradedFor (or this destination never
		// took the degraded event).
		cancelled := blindRecord{State: blindCancelled}
		if rec != nil {
			cancelled.EventID = rec.EventID
		}
		if err := b.write(ctx, key, cancelled, rev); err != nil {
			return pass, err
		}
		it.log.Info().Msg("slack: blindness ended within slack.degraded_for: neither its watch_degraded nor its watch_recovered is posted")
		return drop, nil
	case rec.State == blindHeld:
		// It lasted: the degraded one is due and must go first.
		return nak(it, time.Second)
	case rec.State == blindCancelled:
		return drop, nil
	}
	return pass, nil
}

func (b blindness) degraded(ctx context.Context, it *item, key string, rec *blindRecord, rev uint64) (verdict, error) {
	now, due := b.now(), it.env.Time.Add(b.degradedFor)
	if rec != nil && rec.EventID != it.env.ID {
		rec = nil // the last episode's: this one starts afresh
	}
	switch {
	case rec != nil && rec.State == blindCancelled:
		return drop, nil
	case rec != nil && rec.State == blindPosting:
		return pass, nil
	case now.Before(due):
		if rec == nil {
			if err := b.write(ctx, key, blindRecord{State: blindHeld, Due: due.UTC(), EventID: it.env.ID}, rev); err != nil {
				return pass, err
			}
		}
		it.log.Debug().Time("due", due).Msg("slack: watch_degraded held until the blindness has lasted slack.degraded_for")
		return nak(it, due.Sub(now))
	}
	if err := b.write(ctx, key, blindRecord{State: blindPosting, EventID: it.env.ID}, rev); err != nil {
		return pass, err
	}
	return pass, nil
}

// nak hands an event back to JetStream, to be delivered again after delay.
func nak(it *item, delay time.Duration) (verdict, error) {
	if err := it.msg.NakWithDelay(delay); err != nil {
		return pass, fmt.Errorf("hand back for %s: %w", delay, err)
	}
	return later, nil
}

func (b blindness) read(ctx context.Context, key string) (*blindRecord, uint64, error) {
	return readRecord[blindRecord](ctx, b.kv, "blindness record", key)
}

// write creates the record (rev 0) or replaces the revision read;
// either fails with jetstream.ErrKeyExists when someone wrote in between.
func (b blindness) write(ctx context.Context, key string, rec blindRecord, rev uint64) error {
	_, err := writeRecord(ctx, b.kv, "blindness record", key, rec, rev)
	return err
}

// key names the blindness episodes of a task for this lane: the
// project, the task (or _api) and the error class, which the poller keeps
// for the whole episode (watch_degraded's reason is "<class>: <message>",
// watch_recovered's "recovered from <class>"). Episodes of one key follow
// each other, each a watch_degraded then its watch_recovered in stream
// order; the record is the latest one's (see blindRecord.EventID).
func (b blindness) key(d notify.Data) string {
	task := d.TaskID
	if task == "" {
		task = notify.NoTask
	}
	sum := sha256.Sum256([]byte(b.lane + "\x00" + d.ProjectID + "\x00" + task + "\x00" + blindClass(d)))
	return "blind." + hex.EncodeToString(sum[:16])
}

func blindClass(d notify.Data) string {
	if d.Kind == diff.WatchRecovered {
		return strings.TrimPrefix(d.Reason, "recovered from ")
	}
	class, _, _ := strings.Cut(d.Reason, ": ")
	return class
}
