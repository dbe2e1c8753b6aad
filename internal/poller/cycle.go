package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/state"
)

// cycle applies one cycle's observations to the stored snapshots. Every
// change follows the same order (a transactional outbox): derive the events
// against the stored record and its revision, write the new record together
// with the events it owes (compare-and-swap), publish them, then clear them
// from the record. A crash or an outage anywhere in between leaves either
// the old record (the change is detected again, at the same revision, so
// with the same event ids) or the events still owed, which are published
// again with the same ids before the task is diffed again.
//
// A cycle's workers run these methods concurrently, each on its own task:
// mu guards the poller's maps and the stats they share; the store and the
// publisher are safe for concurrent use.
type cycle struct {
	p     *Poller
	now   time.Time
	stats *Stats
	// batch: the API was blind when the cycle started, so the answers are
	// collected and applied after the API's recovery is decided.
	batch  bool
	listed map[string]*dcs.Task // read-only during the cycle

	fetched atomic.Int64 // successful detail calls
	// staleN counts the poller's stale records: while none is, load
	// takes no lock.
	staleN atomic.Int64

	mu          sync.Mutex
	apiErr      error // the cycle's API-wide failure, if any
	seen        bool  // the API answered (the list; the detail calls: fetched)
	apiFailures int
	errs        []error

	apiMu       sync.Mutex
	apiReported bool // the API's blindness was committed this cycle
}

func (c *cycle) addErr(err error) {
	if err == nil {
		return
	}
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

// tally counts a detail call's outcome and logs its failure; an outage
// fails every call the same way, so only its first failure is logged in
// full and the rest are counted.
func (c *cycle) tally(r result) {
	switch {
	case r.skipped:
		return
	case r.err == nil:
		// The common case, on every worker: no lock.
		c.fetched.Add(1)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case errors.Is(r.err, dcs.ErrGone):
		// Not a failure: the task is reported removed, once.
		c.p.o.Logger.Debug().Str("task_id", r.id).Msg("task not found (DCS.4133)")
	case apiWide(r.err):
		c.stats.Failed++
		c.apiFailures++
		if c.apiFailures == 1 {
			c.p.logCallErr(r.err, r.id, r.info, "show task")
		}
		if c.apiErr == nil || stopsCycle(r.err) {
			c.apiErr = r.err
		}
	default:
		c.stats.Failed++
		c.p.logCallErr(r.err, r.id, r.info, "show task")
	}
}

// apply commits what one detail call says about its task.
func (c *cycle) apply(ctx context.Context, r result) {
	switch {
	case r.skipped:
	case r.err == nil:
		rowp, listedNow := c.listed[r.id]
		err := c.observe(ctx, r.at, r.task, rowp, r.info.Nulls)
		switch {
		case err != nil:
			c.addErr(err)
		case listedNow && !c.p.o.EveryCycle:
			c.mu.Lock()
			c.p.plan.done(*rowp, r.at)
			c.mu.Unlock()
		case !listedNow && c.listed != nil:
			c.mu.Lock()
			c.p.absent[r.id] = r.at // missing from the list, yet it answers
			c.mu.Unlock()
		}
	case errors.Is(r.err, dcs.ErrGone):
		c.addErr(c.remove(ctx, r.at, r.id, "the API answers: task not found"))
	case apiWide(r.err):
		if !c.batch {
			c.apiDown(ctx)
		}
	default:
		c.addErr(c.blind(ctx, r.at, r.id, r.err))
	}
}

// apiDown commits the API's blindness as soon as the cycle meets it, once:
// the events of the tasks seen meanwhile are already out.
func (c *cycle) apiDown(ctx context.Context) {
	c.apiMu.Lock()
	defer c.apiMu.Unlock()
	if c.apiReported {
		return
	}
	c.apiReported = true
	c.mu.Lock()
	err := c.apiErr
	c.mu.Unlock()
	c.addErr(c.api(ctx, c.p.o.Now(), err, false))
}

// discoverAll makes each row its task's first snapshot, with bounded
// concurrency; it returns when all are done, so that no detail answer of
// the cycle meets a task before its row snapshot.
func (c *cycle) discoverAll(ctx context.Context, rows []*dcs.Task) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(c.p.o.Concurrency, len(rows)) {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() == nil {
					c.addErr(c.discover(ctx, *rows[i]))
				}
			}
		})
	}
	for i := range rows {
		next <- i
	}
	close(next)
	wg.Wait()
}

// discover makes a list row the first snapshot of a task never seen
// before: its status is known at once, the discovered event goes out
// with what the row shows, and the record is marked RowOnly until a
// detail call completes it.
func (c *cycle) discover(ctx context.Context, row dcs.Task) error {
	ent, err := c.load(ctx, row.ID)
	if err != nil {
		return err
	}
	if ent.Task != nil {
		return nil // another replica took it first
	}
	rec := ent.Record
	t := row
	rec.Task = &t
	rec.RowOnly = true
	rec.Removed = false
	rec.StatusSince = c.now
	if err := c.commit(ctx, c.now, row.ID, ent, rec, diff.Diff(nil, &t), ""); err != nil {
		return err
	}
	c.p.observe(row.ID)
	c.mu.Lock()
	c.stats.Rows++
	c.mu.Unlock()
	return nil
}

// load returns a task's entry (task state.API: the API's) once its outbox
// is empty: a task is never diffed while the stream may lack an event of
// its last change.
func (c *cycle) load(ctx context.Context, task string) (state.Entry, error) {
	ent, _ := c.p.st.Get(c.p.o.ProjectID, task)
	stale := false
	if c.staleN.Load() > 0 {
		c.mu.Lock()
		stale = c.p.stale[task]
		c.mu.Unlock()
	}
	if stale {
		var err error
		if ent, err = c.p.st.Refresh(ctx, c.p.o.ProjectID, task); err != nil {
			return ent, fmt.Errorf("%s: read the snapshot again after a failed write: %w", displayID(task), err)
		}
		c.mu.Lock()
		delete(c.p.stale, task)
		c.staleN.Store(int64(len(c.p.stale)))
		c.mu.Unlock()
	}
	if len(ent.Pending) == 0 {
		return ent, nil
	}
	return c.settle(ctx, task, ent)
}

// settle publishes the events ent still owes, in order, and clears them.
// A publish that JetStream answers as a duplicate was stored before (its
// ack was lost): that counts as stored.
func (c *cycle) settle(ctx context.Context, task string, ent state.Entry) (state.Entry, error) {
	for _, o := range ent.Pending {
		var env notify.Envelope
		if err := json.Unmarshal(o.Body, &env); err != nil {
			// Our own JSON: only a corrupted record gets here. Dropping the
			// event is the only way forward; say so loudly.
			c.p.o.Logger.Error().Err(err).Str("task_id", task).Str("event_id", o.ID).Msg("outbox event unreadable: dropped")
			continue
		}
		env.NATSSubject = o.Subject
		if err := c.fence(ctx); err != nil {
			return ent, fmt.Errorf("%s: events not published: %w", displayID(task), err)
		}
		dup, err := c.p.pub.Send(ctx, env)
		c.mu.Lock()
		if err != nil {
			c.p.unsettled[task] = true
			c.p.tried[env.ID] = true
			c.mu.Unlock()
			return ent, fmt.Errorf("%s: %d event(s) owed to the stream, snapshot held until they are stored: %w", displayID(task), len(ent.Pending), err)
		}
		mine := !dup || c.p.tried[env.ID]
		delete(c.p.tried, env.ID)
		if mine {
			c.stats.Events++
			c.p.o.Published(env) // under mu: the hook is never called concurrently
		}
		c.mu.Unlock()
		if !mine {
			continue // another replica published it
		}
		c.p.o.Logger.Info().Str("event_id", env.ID).Str("task_id", env.Data.TaskID).
			Str("kind", string(env.Data.Kind)).Str("subject", env.NATSSubject).Msg("event published")
	}
	rec := ent.Record
	rec.Pending = nil
	if err := c.put(ctx, task, rec); err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if cur, _ := c.p.st.Get(c.p.o.ProjectID, task); errors.Is(err, state.ErrConflict) && len(cur.Pending) == 0 {
			// Another replica settled it first.
			delete(c.p.unsettled, task)
			return cur, nil
		}
		c.p.unsettled[task] = true
		return ent, err
	}
	c.mu.Lock()
	delete(c.p.unsettled, task)
	c.mu.Unlock()
	ent, _ = c.p.st.Get(c.p.o.ProjectID, task)
	return ent, nil
}

// settleAll settles every record that still owes events: after a restart
// (the first cycle looks at every record) and after a failed publish.
func (c *cycle) settleAll(ctx context.Context) error {
	if !c.p.scanned {
		for _, e := range c.p.st.Tasks(c.p.o.ProjectID) {
			if len(e.Pending) > 0 {
				c.p.unsettled[e.Task.ID] = true
			}
		}
		if e, _ := c.p.st.Get(c.p.o.ProjectID, state.API); len(e.Pending) > 0 {
			c.p.unsettled[state.API] = true
		}
		c.p.scanned = true
	}
	for _, task := range sortedKeys(c.p.unsettled) {
		if _, err := c.load(ctx, task); err != nil {
			return err // NATS is away: the rest would fail alike
		}
		delete(c.p.unsettled, task)
	}
	return nil
}

// observe handles a successful detail call; row is the task's list row,
// nil when the list did not show it; nulls are the fields the answer sent
// as null, which keep their previous values.
func (c *cycle) observe(ctx context.Context, at time.Time, t dcs.Task, row *dcs.Task, nulls []string) error {
	ent, err := c.load(ctx, t.ID)
	if err != nil {
		return err
	}
	prev := ent.Task
	if len(nulls) > 0 {
		t.KeepNulls(prev, nulls)
		c.p.o.Logger.Debug().Str("task_id", t.ID).Strs("null_fields", nulls).Msg("null fields keep their previous values")
	}
	complete(&t, row, prev)
	if prev != nil && t.Status != prev.Status && t.NormStatus() == prev.NormStatus() {
		t.Status = prev.Status // one status, two spellings: nothing to write
	}
	var events []diff.Event
	rec := ent.Record
	if ent.Blind != nil {
		events = append(events, diff.Recovered(t.ID, ent.Blind.Class, prev, ent.BlindEpisodes))
		rec.Blind = nil
	}
	base := prev
	if ent.RowOnly && prev != nil {
		// The first detail answer after a row snapshot: a change is one of
		// what the row carries; the rest was unknown, not different.
		base = rowBase(prev, &t)
	}
	changes := diff.Diff(base, &t)
	if ent.Removed && prev != nil && len(changes) == 0 {
		// Back after removal, as it was: say so, or consumers would keep
		// it for gone.
		changes = []diff.Event{diff.Returned(prev, &t)}
	}
	events = append(events, changes...)
	if len(events) == 0 && !ent.Removed && !ent.RowOnly && diff.Equal(prev, &t) {
		c.p.observe(t.ID)
		return nil // the common case: one call, one comparison, no write
	}
	if prev == nil || prev.NormStatus() != t.NormStatus() {
		rec.StatusSince = at
	}
	rec.Task = &t
	rec.Removed = false
	rec.RowOnly = false
	gap := c.gap(t.ID, ent)
	if err := c.commit(ctx, at, t.ID, ent, rec, events, gap); err != nil {
		return err
	}
	c.p.observe(t.ID)
	return nil
}

// rowBase is what a row snapshot says of a task, completed by the detail
// answer t: the fields the watcher compares a list row on (rowMatches:
// status, failure reason, release, name, description, the instances'
// statuses) from the row, everything else (task_status, the instances'
// task_status, bandwidth, backup files, addresses as the detail call
// spells them...) from t, so only a change the row could show is one.
func rowBase(row, t *dcs.Task) *dcs.Task {
	b := *t
	b.Status = row.Status
	b.ErrorMessage = row.ErrorMessage
	b.ReleasedAt = row.ReleasedAt
	b.Name = row.Name
	b.Description = row.Description
	b.Source.Status = row.Source.Status
	b.Target.Status = row.Target.Status
	return &b
}

// gap says why a change of the task may hide statuses it went through
// unobserved: the first sight since this process started (the watcher
// was not running before), or blindness (of the task or the whole API).
func (c *cycle) gap(task string, ent state.Entry) string {
	switch {
	case ent.Task == nil:
		return ""
	case ent.Blind != nil || c.p.apiWasBlind:
		return "watcher was blind"
	}
	if _, ok := c.p.observed.Load(task); !ok {
		return "watcher restarted"
	}
	return ""
}

// complete fills in what only the list row carries (the failure reason and
// the instances' own statuses) and a detail answer lacks: from the row when
// the list showed the task, else from the previous snapshot, so that a
// cycle without the list (it failed, or did not show the task) reads the
// same as one with it and raises no false change.
func complete(t *dcs.Task, row, prev *dcs.Task) {
	from := row
	if from == nil {
		from = prev
	}
	if from == nil {
		return
	}
	if t.ErrorMessage == "" {
		t.ErrorMessage = from.ErrorMessage
	}
	if t.Source.Status == "" {
		t.Source.Status = from.Source.Status
	}
	if t.Target.Status == "" {
		t.Target.Status = from.Target.Status
	}
}

// remove handles a task that the API says is gone (DCS.4133 or 404): the
// only evidence of removal the watcher accepts.
func (c *cycle) remove(ctx context.Context, at time.Time, id, why string) error {
	ent, err := c.load(ctx, id)
	if err != nil {
		return err
	}
	if ent.Removed {
		return nil
	}
	rec := ent.Record
	rec.Removed = true
	rec.Blind = nil
	var events []diff.Event
	if ent.Task != nil {
		events = append(events, diff.RemovedEvent(ent.Task))
	} else {
		// Never seen: a configured id that does not exist. Remember it, so
		// the warning is given once, not every cycle.
		c.p.o.Logger.Warn().Str("task_id", id).Msg("configured task does not exist (DCS.4133)")
	}
	c.p.o.Logger.Info().Str("task_id", id).Str("why", why).Msg("task removed")
	return c.commit(ctx, at, id, ent, rec, events, "")
}

// blind reports that one task cannot be seen (its answer is unusable); once
// per episode.
func (c *cycle) blind(ctx context.Context, at time.Time, id string, err error) error {
	ent, lerr := c.load(ctx, id)
	if lerr != nil {
		return lerr
	}
	if ent.Blind != nil {
		return nil
	}
	return c.degrade(ctx, at, id, ent, err)
}

// api tracks the blindness of the API as a whole: it starts with the first
// API-wide failure (an unusable list answer included) and ends with the
// first cycle that saw the API again.
func (c *cycle) api(ctx context.Context, at time.Time, apiErr error, seen bool) error {
	ent, err := c.load(ctx, state.API)
	if err != nil {
		return err
	}
	switch {
	case apiErr != nil && ent.Blind == nil:
		return c.degrade(ctx, at, state.API, ent, apiErr)
	case apiErr == nil && ent.Blind != nil && seen:
		rec := ent.Record
		rec.Blind = nil
		ev := diff.Recovered("", ent.Blind.Class, nil, ent.BlindEpisodes)
		return c.commit(ctx, at, state.API, ent, rec, []diff.Event{ev}, "")
	}
	return nil
}

func (c *cycle) degrade(ctx context.Context, at time.Time, task string, ent state.Entry, err error) error {
	class := dcs.Class(err)
	if class == "" {
		class = "error"
	}
	rec := ent.Record
	rec.BlindEpisodes++
	rec.Blind = &state.Blindness{Class: class, Since: at}
	id := task
	if task == state.API {
		id = ""
	}
	ev := diff.Degraded(id, class, err.Error(), ent.Task, rec.BlindEpisodes)
	return c.commit(ctx, at, task, ent, rec, []diff.Event{ev}, "")
}

// commit writes rec with the events it owes (their ids stamped with the
// project and the revision they were diffed against), then publishes them
// and clears them from the record. at is when the answer that shows the
// change came: in a long cycle (NATS slow or away) that can be well after
// the cycle's start, and the events say when the change was seen.
func (c *cycle) commit(ctx context.Context, at time.Time, task string, prev state.Entry, rec state.Record, events []diff.Event, gap string) error {
	rec.WrittenAt = at
	rec.Pending = nil
	for _, ev := range events {
		env := c.p.pub.Envelope(ev.At(c.p.o.ProjectID, prev.Revision), notify.Meta{
			ProjectID:       c.p.o.ProjectID,
			ObservedAt:      at,
			PrevStatusSince: prev.StatusSince,
			Gap:             gap,
		})
		body, err := json.Marshal(env)
		if err != nil {
			return fmt.Errorf("%s: encode event %s: %w", displayID(task), env.ID, err)
		}
		rec.Pending = append(rec.Pending, state.Outgoing{ID: env.ID, Subject: env.NATSSubject, Body: body})
	}
	if err := c.put(ctx, task, rec); err != nil {
		return err
	}
	if len(rec.Pending) == 0 {
		return nil
	}
	ent, _ := c.p.st.Get(c.p.o.ProjectID, task)
	_, err := c.settle(ctx, task, ent)
	return err
}

// fence asks Options.Fence, when set, whether this replica still leads.
func (c *cycle) fence(ctx context.Context) error {
	if c.p.o.Fence == nil {
		return nil
	}
	return c.p.o.Fence(ctx)
}

func (c *cycle) put(ctx context.Context, task string, rec state.Record) error {
	if err := c.fence(ctx); err != nil {
		return fmt.Errorf("snapshot of %s not written: %w", displayID(task), err)
	}
	if err := c.p.st.Put(ctx, c.p.o.ProjectID, task, rec); err != nil {
		if !errors.Is(err, state.ErrConflict) {
			// Stored or not? Read it again before the task is used, and
			// settle what it may owe at the next cycle's start.
			c.mu.Lock()
			c.p.stale[task] = true
			c.p.unsettled[task] = true
			c.staleN.Store(int64(len(c.p.stale)))
			c.mu.Unlock()
		}
		return fmt.Errorf("snapshot of %s kept, the change will be detected again: %w", displayID(task), err)
	}
	c.mu.Lock()
	c.stats.Writes++
	c.mu.Unlock()
	return nil
}

// displayID names a record in messages.
func displayID(task string) string {
	if task == state.API {
		return "the API"
	}
	return "task " + task
}
