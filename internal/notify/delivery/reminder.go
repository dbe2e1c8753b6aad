package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackact"
)

// Reminders (slack.remind_every, see docs/slack-delivery.md,
// "Reminders"): an incident opens when a lane delivers an event that
// opensIncident, and closes at a later event of the same task that
// closesIncident. While it is open the lane keeps a reminder record in
// its marks bucket, under reminderKey; the lane's delivery lease holder
// posts each reminder when it is due (remindloop.go).

// Acks says whether a task's incident was acknowledged (the buttons'
// slackact.Store); incident is the card's (slackmsg.Incident).
type Acks interface {
	Acknowledged(ctx context.Context, project, task, incident string) (*slackact.Record, error)
}

// Silences says whether an event is silenced, and by which silence
// (the silence store's Set).
type Silences interface {
	Silenced(d notify.Data, now time.Time) (id string, ok bool)
}

// opensIncident says whether d, delivered, opens a task's incident (or
// carries one on): a task's event whose outcome is a failure, or a stall
// (stalled opens one whatever its outcome, and closes none; its resumed
// closes it).
func opensIncident(d notify.Data) bool {
	if d.TaskID == "" || blindKind(d.Kind) || d.Kind == diff.Removed {
		return false
	}
	out, _ := d.Classified()
	return out == dcs.OutcomeFailed || d.Kind == diff.Stalled
}

// closesIncident says whether d ends its task's incident: the task is
// gone (removed, failed or not), or an event of it that does not open one (it recovered, was
// stopped, finished). The watcher going blind or seeing again says
// nothing of the task.
func closesIncident(d notify.Data) bool {
	if d.TaskID == "" || blindKind(d.Kind) {
		return false
	}
	return !opensIncident(d)
}

func blindKind(k diff.Kind) bool { return k == diff.WatchDegraded || k == diff.WatchRecovered }

// reminderPrefix is where the lane's reminder records are: the default
// destination's under remind.default, a route's under remind.to.<route>.
func (n *lane) reminderPrefix() string {
	if n.name == "" {
		return "remind.default"
	}
	return "remind.to." + n.name
}

// reminderKey is the key of the reminder record of d's task.
func (n *lane) reminderKey(d notify.Data) string {
	sum := sha256.Sum256([]byte(d.ProjectID + "\x00" + d.TaskID))
	return n.reminderPrefix() + "." + hex.EncodeToString(sum[:16])
}

// planIncidents reads the incidents off a batch, in stream order: a task
// whose incident closes anywhere in the batch has its record deleted now
// (a later opener in the batch opens a new one), and only the last event
// of a task that opens or closes one is marked to open (or carry on) the
// incident once delivered, if it opens one (item.opens).
func (n *lane) planIncidents(ctx context.Context, kv jetstream.KeyValue, items []*item) error {
	if n.o.RemindEvery <= 0 {
		return nil
	}
	last := map[string]*item{}
	closed := map[string]notify.Data{}
	for _, it := range items {
		d := it.env.Data
		opens, closes := opensIncident(d), closesIncident(d)
		if !opens && !closes {
			continue
		}
		key := n.reminderKey(d)
		if prev := last[key]; prev != nil {
			prev.opens = false
		}
		last[key], it.opens = it, opens
		if closes {
			closed[key] = d
		}
	}
	if len(closed) == 0 {
		return nil
	}
	// Most closing events (a task moving on, first sight of a healthy
	// one) close nothing: the open incidents are listed once, and only
	// theirs are deleted (a delete leaves a marker).
	open, err := n.openIncidents(ctx, kv)
	if err != nil {
		return err
	}
	for key, d := range closed {
		if !open[key] {
			continue
		}
		if err := kv.Delete(ctx, key); err != nil {
			return fmt.Errorf("close the incident of task %s: %w", d.TaskID, err)
		}
	}
	return nil
}

// openIncidents are the keys of the lane's reminder records.
func (n *lane) openIncidents(ctx context.Context, kv jetstream.KeyValue) (map[string]bool, error) {
	lister, err := kv.ListKeysFiltered(ctx, n.reminderPrefix()+".*")
	if err != nil {
		return nil, fmt.Errorf("list open incidents: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	keys := map[string]bool{}
	for k := range lister.Keys() {
		keys[k] = true
	}
	return keys, nil
}

// opened records the incident that the delivered it opens (or carries
// on): a new record due RemindEvery from now, or the open one with its
// last event replaced.
func (n *lane) opened(ctx context.Context, kv jetstream.KeyValue, it *item) error {
	key := n.reminderKey(it.env.Data)
	for range 5 {
		rec, rev, err := readRecord[reminder](ctx, kv, "reminder", key)
		if err != nil {
			return err
		}
		if rec == nil {
			at := it.env.Time
			if at.IsZero() {
				at = n.o.Now()
			}
			rec = &reminder{OpenedAt: at.UTC(), NextAt: n.o.Now().Add(n.o.RemindEvery).UTC()}
		}
		rec.EventID, rec.Data = it.env.ID, it.env.Data
		_, err = writeRecord(ctx, kv, "reminder", key, rec, rev)
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return err
		}
	}
	return fmt.Errorf("reminder %s: the record kept changing", key)
}
