package silence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/kvkey"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// ClaimFor is how long a replica that took a catch-up from Due has to post
// it and call Done before another replica's Due offers it again.
const ClaimFor = 5 * time.Minute

// casTries bounds the compare-and-swap retries of one record update.
const casTries = 5

// Tracker remembers what each silence hid, per task, in the silences'
// bucket: the last hidden event and whether a later event showed the task
// recovered. When the silence ends, Due offers each task still failing
// (or stalled) once. It is safe for concurrent use, and replicas share
// its records.
type Tracker struct {
	kv  jetstream.KeyValue
	set *Set
	log zerolog.Logger

	mu sync.Mutex
	// byTask are the keys of the records of each task ("<project>.<task>"
	// tokens), kept current by a watch: an unsilenced event costs a KV
	// write only when some silence hid its task.
	byTask map[string]map[string]bool
}

// hidden is one silence's record of one task.
type hidden struct {
	Silence string    `json:"silence"`
	End     time.Time `json:"end"` // when the silence (or the window's activation) ends
	// Envelope is the last event the silence hid; Subject its NATS subject.
	Envelope notify.Envelope `json:"envelope"`
	Subject  string          `json:"subject"`
	// Last is the time of the latest event of the task seen, hidden or not;
	// Recovered whether it showed the task no longer failing.
	Last      time.Time  `json:"last"`
	Recovered bool       `json:"recovered"`
	ClaimedAt *time.Time `json:"claimed_at,omitempty"`
}

// Catchup is one task to post because the silence that hid it ended.
type Catchup struct {
	// Envelope is the last event the silence hid, as published but for
	// data.silenced, cleared so that it posts like any event; Silence is
	// the id of the silence that hid it.
	Envelope notify.Envelope
	Silence  string
	key      string
	rev      uint64
}

// Tracker returns the catch-up state over the store's bucket; set says
// when each silence ends. It follows the bucket until ctx ends and
// returns once the records stored now are indexed.
func (st *Store) Tracker(ctx context.Context, set *Set, log zerolog.Logger) (*Tracker, error) {
	w, err := st.kv.Watch(ctx, hiddenPrefix+">", jetstream.MetaOnly())
	if err != nil {
		return nil, fmt.Errorf("silence: watch the catch-up records: %w", err)
	}
	t := &Tracker{kv: st.kv, set: set, log: log, byTask: map[string]map[string]bool{}}
	if err := loadWatch(ctx, w, "the catch-up records", t.index); err != nil {
		return nil, err
	}
	go func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, open := <-w.Updates():
				if !open {
					return
				}
				if e != nil {
					t.index(e)
				}
			}
		}
	}()
	return t, nil
}

func (t *Tracker) index(e jetstream.KeyValueEntry) {
	task := taskOfKey(e.Key())
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.Operation() == jetstream.KeyValuePut {
		t.addKey(task, e.Key())
		return
	}
	keys := t.byTask[task]
	delete(keys, e.Key())
	if len(keys) == 0 {
		delete(t.byTask, task)
	}
}

func (t *Tracker) indexKey(task, key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addKey(task, key)
}

// addKey indexes a record; t.mu held.
func (t *Tracker) addKey(task, key string) {
	keys := t.byTask[task]
	if keys == nil {
		keys = map[string]bool{}
		t.byTask[task] = keys
	}
	keys[key] = true
}

// taskOfKey is the "<project>.<task>" of a record key h.<silence>.<project>.<task>.
func taskOfKey(key string) string {
	parts := strings.SplitN(key, ".", 3)
	if len(parts) < 3 {
		return ""
	}
	return parts[2]
}

func taskToken(d notify.Data) string { return kvkey.Token(d.ProjectID) + "." + kvkey.Token(d.TaskID) }

// Failing says whether an event leaves its task failed or stalled: what a
// catch-up is for.
func Failing(d notify.Data) bool {
	out, _ := d.Classified()
	return out == dcs.OutcomeFailed || d.Kind == diff.Stalled
}

// Observe records an event the Slack notifier took from the stream: a
// silenced one (data.silenced) as the last its silence hid of the task,
// and any event of a task some silence hid as whether the task is still
// failing. hide says whether to skip posting it (it is silenced). Events
// about no task are only judged.
func (t *Tracker) Observe(ctx context.Context, env notify.Envelope) (hide bool, err error) {
	d := env.Data
	hide = d.Silenced != ""
	if d.TaskID == "" {
		return hide, nil
	}
	task := taskToken(d)
	var own string
	if hide {
		end, token, ok := t.set.ends(d.Silenced, env.Time)
		if !ok {
			// Removed or over since the poller marked it: the record is
			// due at once.
			end, token = env.Time, kvkey.Token(strings.ReplaceAll(d.Silenced, ":", "="))
		}
		own = hiddenPrefix + token + "." + task
		err := t.update(ctx, own, func(h *hidden, exists bool) bool {
			if exists && h.Last.After(env.Time) {
				return false // a redelivery of an older event
			}
			*h = hidden{Silence: d.Silenced, End: end, Envelope: env, Subject: env.NATSSubject,
				Last: env.Time, Recovered: !Failing(d)}
			return true
		})
		if err != nil {
			return hide, err
		}
		t.indexKey(task, own) // before the watch says so: the next event reads it
	}
	for _, key := range t.keysOf(task) {
		if key == own {
			continue
		}
		err := t.update(ctx, key, func(h *hidden, exists bool) bool {
			if !exists || h.Last.After(env.Time) {
				return false
			}
			h.Last, h.Recovered = env.Time, !Failing(d)
			return true
		})
		if err != nil {
			return hide, err
		}
	}
	return hide, nil
}

func (t *Tracker) keysOf(task string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.byTask[task]))
	for k := range t.byTask[task] {
		out = append(out, k)
	}
	return out
}

// update reads a record, lets edit change it (false: leave it) and
// writes it back by compare-and-swap, again on a conflict.
func (t *Tracker) update(ctx context.Context, key string, edit func(h *hidden, exists bool) bool) error {
	for range casTries {
		var h hidden
		var rev uint64
		e, err := t.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return fmt.Errorf("silence: read %s: %w", key, err)
		default:
			rev = e.Revision()
			if err := json.Unmarshal(e.Value(), &h); err != nil {
				return fmt.Errorf("silence: record %s unreadable: %w", key, err)
			}
		}
		if !edit(&h, rev != 0) {
			return nil
		}
		body, err := json.Marshal(h)
		if err != nil {
			return fmt.Errorf("silence: encode %s: %w", key, err)
		}
		if rev == 0 {
			_, err = t.kv.Create(ctx, key, body)
		} else {
			_, err = t.kv.Update(ctx, key, body, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return fmt.Errorf("silence: write %s: %w", key, err)
		}
		return nil
	}
	return fmt.Errorf("silence: write %s: %d conflicting writers in a row", key, casTries)
}

// Pending is how many catch-up records the tracker knows of.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, ks := range t.byTask {
		n += len(ks)
	}
	return n
}
