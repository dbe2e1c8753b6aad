package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/state"
)

// outbox is the transactional outbox over the snapshot store: a change is
// written together with the events it owes (state.Record.Pending) in one
// compare-and-swap, the events are published, then cleared from the
// record. A crash or an outage anywhere in between leaves either the old
// record (the change is detected again, at the same revision, so with the
// same event ids) or the events still owed, which are published again with
// the same ids, as stored, before the record is used again.
//
// It remembers, across cycles, which records may still owe events and
// which may not be what the cache says; it is safe for concurrent use by a
// cycle's workers, each on its own task.
type outbox struct {
	st      Store
	pub     Publisher
	project string
	fenced  func(ctx context.Context) error // Options.Fence; nil: always leads
	// handingOver: HandOver commits a journal after the lease moved; its
	// writes are guarded by compare-and-swap alone.
	handingOver atomic.Bool
	published   func(notify.Envelope) // Options.Published
	silencer    Silencer              // Options.Silencer; nil: nothing silenced
	log         zerolog.Logger

	// events and writes count the events this process published and the
	// snapshots it wrote: a cycle's Stats are what they grew by.
	events, writes atomic.Int64
	// staleN is len(stale): while it is 0, load takes no lock.
	staleN atomic.Int64

	mu sync.Mutex
	// owed are records whose outbox may still hold events; scanned is set
	// once every record has been looked at after the start.
	owed    map[string]bool
	scanned bool
	// stale are records whose last write failed without saying whether it
	// was stored: they are read again before use.
	stale map[string]bool
	// tried are the events whose publish failed here: if the stream turns
	// out to hold them, it was this process's lost ack.
	tried map[string]bool
}

func newOutbox(st Store, pub Publisher, o Options) *outbox {
	return &outbox{st: st, pub: pub, project: o.ProjectID, fenced: o.Fence, published: o.Published, silencer: o.Silencer, log: o.Logger,
		owed: map[string]bool{}, stale: map[string]bool{}, tried: map[string]bool{}}
}

// owedEvent is one event of an outbox: the bytes stored, which are what is
// published, and the envelope they encode, for the log and the Published
// hook.
type owedEvent struct {
	out state.Outgoing
	env notify.Envelope
}

// fence asks Options.Fence, when set, whether this replica still leads.
func (b *outbox) fence(ctx context.Context) error {
	if b.fenced == nil || b.handingOver.Load() {
		return nil
	}
	if err := b.fenced(ctx); err != nil {
		return fencedError{err}
	}
	return nil
}

// load returns a record's entry (task state.API: the API's) once its
// outbox is empty: a task is never diffed while the stream may lack an
// event of its last change. A stale record is read from storage first.
func (b *outbox) load(ctx context.Context, task string) (state.Entry, error) {
	ent, _ := b.st.Get(b.project, task)
	if b.staleN.Load() > 0 && b.isStale(task) {
		var err error
		if ent, err = b.st.Refresh(ctx, b.project, task); err != nil {
			return ent, fmt.Errorf("%s: read the snapshot again after a failed write: %w", displayID(task), err)
		}
		b.mu.Lock()
		delete(b.stale, task)
		b.staleN.Store(int64(len(b.stale)))
		b.mu.Unlock()
	}
	if len(ent.Pending) == 0 {
		return ent, nil
	}
	return b.settle(ctx, task, ent.Record, b.decode(task, ent.Pending))
}

func (b *outbox) isStale(task string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stale[task]
}

// decode reads the envelopes of a stored outbox. An unreadable one (our
// own JSON: only a corrupted record gets here) is dropped, loudly: it is
// the only way forward.
func (b *outbox) decode(task string, pending []state.Outgoing) []owedEvent {
	owed := make([]owedEvent, 0, len(pending))
	for _, o := range pending {
		var env notify.Envelope
		if err := json.Unmarshal(o.Body, &env); err != nil {
			b.log.Error().Err(err).Str("task_id", task).Str("event_id", o.ID).Msg("outbox event unreadable: dropped")
			continue
		}
		env.NATSSubject = o.Subject
		owed = append(owed, owedEvent{out: o, env: env})
	}
	return owed
}

// settle publishes the events rec owes, in order, and clears them from the
// record. A publish that JetStream answers as a duplicate was stored
// before (its ack was lost): that counts as stored.
func (b *outbox) settle(ctx context.Context, task string, rec state.Record, owed []owedEvent) (state.Entry, error) {
	ent := state.Entry{Record: rec}
	for _, o := range owed {
		if err := b.fence(ctx); err != nil {
			return ent, fmt.Errorf("%s: events not published: %w", displayID(task), err)
		}
		dup, err := b.pub.SendStored(ctx, o.out.Subject, o.out.ID, o.out.Body)
		b.mu.Lock()
		if err != nil {
			b.owed[task] = true
			b.tried[o.out.ID] = true
			b.mu.Unlock()
			return ent, fmt.Errorf("%s: %d event(s) owed to the stream, snapshot held until they are stored: %w", displayID(task), len(rec.Pending), err)
		}
		mine := !dup || b.tried[o.out.ID]
		delete(b.tried, o.out.ID)
		if mine {
			b.events.Add(1)
			b.published(o.env) // under mu: the hook is never called concurrently
		}
		b.mu.Unlock()
		if !mine {
			continue // another replica published it
		}
		b.log.Info().Str("event_id", o.env.ID).Str("task_id", o.env.Data.TaskID).
			Str("kind", string(o.env.Data.Kind)).Str("subject", o.out.Subject).Msg("event published")
	}
	rec.Pending = nil
	if err := b.put(ctx, task, rec); err != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		if cur, _ := b.st.Get(b.project, task); errors.Is(err, state.ErrConflict) && len(cur.Pending) == 0 {
			// Another replica settled it first.
			delete(b.owed, task)
			return cur, nil
		}
		b.owed[task] = true
		return ent, err
	}
	b.settled(task)
	ent, _ = b.st.Get(b.project, task)
	return ent, nil
}

func (b *outbox) settled(task string) {
	b.mu.Lock()
	delete(b.owed, task)
	b.mu.Unlock()
}

// settleAll settles every record that still owes events: after a restart
// (the first call looks at every record) and after a failed publish.
func (b *outbox) settleAll(ctx context.Context) error {
	b.mu.Lock()
	if !b.scanned {
		for _, e := range b.st.Tasks(b.project) {
			if len(e.Pending) > 0 {
				b.owed[e.Task.ID] = true
			}
		}
		if e, _ := b.st.Get(b.project, state.API); len(e.Pending) > 0 {
			b.owed[state.API] = true
		}
		b.scanned = true
	}
	owed := sortedKeys(b.owed)
	b.mu.Unlock()
	for _, task := range owed {
		if _, err := b.load(ctx, task); err != nil {
			return err // NATS is away: the rest would fail alike
		}
		b.settled(task)
	}
	return nil
}

// commit writes rec with the events it owes (their ids stamped with the
// project and the revision prev was read at), then publishes them and
// clears them from the record. m says when the change was seen (the
// record's WrittenAt too: in a long cycle, NATS slow or away, that can be
// well after the cycle's start), its gap and whether it is delayed; the
// outbox adds the project and when the previous status began. Each event
// is encoded once: the bytes stored are the bytes published.
func (b *outbox) commit(ctx context.Context, task string, prev state.Entry, rec state.Record, events []diff.Event, m notify.Meta) error {
	m.ProjectID, m.PrevStatusSince = b.project, prev.StatusSince
	rec.WrittenAt = m.ObservedAt
	rec.Pending = nil
	owed := make([]owedEvent, 0, len(events))
	for _, ev := range events {
		env := b.pub.Envelope(ev.At(b.project, prev.Revision), m)
		if b.silencer != nil {
			// Judged at the observation, after the id is made: the mark
			// never changes which event it is.
			if id, ok := b.silencer.Silenced(env.Data, m.ObservedAt); ok {
				env.Data.Silenced = id
			}
		}
		body, err := json.Marshal(env)
		if err != nil {
			return fmt.Errorf("%s: encode event %s: %w", displayID(task), env.ID, err)
		}
		o := state.Outgoing{ID: env.ID, Subject: env.NATSSubject, Body: body}
		rec.Pending = append(rec.Pending, o)
		owed = append(owed, owedEvent{out: o, env: env})
	}
	if err := b.put(ctx, task, rec); err != nil {
		return storeFailure(ctx, err)
	}
	if len(owed) == 0 {
		return nil
	}
	_, err := b.settle(ctx, task, rec, owed)
	return err
}

// put writes rec, fenced. A write whose outcome is unknown marks the
// record stale and owing; a conflict with a record that owes events marks
// it owing.
func (b *outbox) put(ctx context.Context, task string, rec state.Record) error {
	if err := b.fence(ctx); err != nil {
		return fmt.Errorf("snapshot of %s not written: %w", displayID(task), err)
	}
	if err := b.st.Put(ctx, b.project, task, rec); err != nil {
		b.mu.Lock()
		if !errors.Is(err, state.ErrConflict) {
			// Stored or not? Read it again before the task is used, and
			// settle what it may owe at the next cycle's start.
			b.stale[task] = true
			b.owed[task] = true
			b.staleN.Store(int64(len(b.stale)))
		} else if cur, _ := b.st.Get(b.project, task); len(cur.Pending) > 0 {
			// Another writer (a replica that has just lost the lease)
			// stored a change with the events it owes and did not publish
			// them: this replica settles them at the next cycle's start,
			// whether or not the task changes again.
			b.owed[task] = true
		}
		b.mu.Unlock()
		return fmt.Errorf("snapshot of %s kept, the change will be detected again: %w", displayID(task), err)
	}
	b.writes.Add(1)
	return nil
}

// fencedError is a fence's refusal: never journaled, the cycle stops.
type fencedError struct{ err error }

func (f fencedError) Error() string { return f.err.Error() }
func (f fencedError) Unwrap() error { return f.err }

// unwritten marks a failure of the store that left an observation
// uncommitted.
type unwritten struct{ err error }

func (u unwritten) Error() string { return u.err.Error() }
func (u unwritten) Unwrap() error { return u.err }

// storeFailure marks err as the store's failure to take a write (or to be
// read before one), unless it is a fence's refusal, a compare-and-swap
// conflict (the change is detected again against the other writer's
// record) or the end of the run (ctx cancelled: the change is detected
// again by the next run).
func storeFailure(ctx context.Context, err error) error {
	var f fencedError
	if err == nil || errors.Is(ctx.Err(), context.Canceled) || errors.As(err, &f) || errors.Is(err, state.ErrConflict) {
		return err
	}
	return unwritten{err}
}

func uncommitted(err error) bool {
	var u unwritten
	return errors.As(err, &u)
}

// displayID names a record in messages.
func displayID(task string) string {
	if task == state.API {
		return "the API"
	}
	return "task " + task
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
