package poller

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/state"
)

// cycle applies one cycle's observations to the stored snapshots, through
// the outbox (outbox.go): derive the events against the stored record and
// its revision, then commit the new record with them.
//
// A cycle's workers run these methods concurrently, each on its own task:
// mu guards the cycle's facts and the poller's maps they share; the store,
// the outbox and the publisher are safe for concurrent use.
type cycle struct {
	p     *Poller
	box   *outbox
	now   time.Time
	stats *Stats
	// apiWasBlind: the API was blind when the cycle started.
	apiWasBlind bool
	// batch: the API was blind when the cycle started, so the answers are
	// collected and applied after the API's recovery is decided.
	batch  bool
	listed map[string]listing // read-only during the cycle

	fetched atomic.Int64 // successful detail calls

	mu          sync.Mutex
	apiErr      error // the cycle's API-wide failure, if any
	seen        bool  // the API answered (the list; the detail calls: fetched)
	apiFailures int
	errs        []error

	apiMu       sync.Mutex
	apiReported bool // the API's blindness was committed this cycle

	// held: the store does not take writes, observations are journaled
	// (replay.go); replaying: the journal is being committed (before any
	// worker runs), its events are delayed.
	held      atomic.Bool
	replaying bool
}

// errHeld: the cycle journals its observations; records are not read or
// written.
var errHeld = errors.New("held while the store is unreachable")

func (c *cycle) addErr(err error) {
	if err == nil || errors.Is(err, errHeld) {
		return // held: said once, by hold
	}
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

// load returns a task's entry once its outbox is empty (outbox.load);
// errHeld while the cycle is held.
func (c *cycle) load(ctx context.Context, task string) (state.Entry, error) {
	if c.held.Load() {
		return state.Entry{}, errHeld
	}
	return c.box.load(ctx, task)
}

// commit commits rec and the events against prev through the outbox; at
// is when the answer that shows the change came, gap why the task may
// have gone unobserved before it.
func (c *cycle) commit(ctx context.Context, at time.Time, task string, prev state.Entry, rec state.Record, events []diff.Event, gap string) error {
	events = c.withLogTail(ctx, task, prev, events)
	return c.box.commit(ctx, task, prev, rec, events, notify.Meta{ObservedAt: at, Gap: gap, Delayed: c.replaying,
		Progress: c.p.prog.envelope(task)})
}

// prepare completes a detail answer t with what its list row row and the
// task's previous snapshot prev know and it lacks.
func (c *cycle) prepare(t, prev, row *dcs.Task, nulls []string) {
	if len(nulls) > 0 {
		dcs.KeepNulls(t, prev, nulls)
		c.p.o.Logger.Debug().Str("task_id", t.ID).Strs("null_fields", nulls).Msg("null fields keep their previous values")
	}
	complete(t, row, prev)
	dcs.DropStaleReason(t) // a reason kept from a failure the task left
	if prev != nil && t.Status != prev.Status && t.NormStatus() == prev.NormStatus() {
		t.Status = prev.Status // one status, two spellings: nothing to write
	}
}

// record commits the observation t of a task whose stored entry is ent:
// the events against it, the new snapshot; gap as for commit.
func (c *cycle) record(ctx context.Context, at time.Time, t dcs.Task, ent state.Entry, gap string) error {
	prev := ent.Task
	var events []diff.Event
	rec := ent.Record
	if ent.Blind != nil {
		events = append(events, diff.Recovered(t.ID, ent.Blind.Class, prev, ent.BlindEpisodes))
		rec.Blind = nil
	}
	base := prev
	if ent.RowOnly && prev != nil {
		// The first detail answer after a row snapshot: a change is one of
		// what the row carries; the rest was unknown, not different. After
		// a status change told from a row (RowAhead), base is the snapshot
		// the row made: that change is not told again, the rest of what
		// moved since the last detail answer is.
		base = rowBase(prev, &t)
	}
	changes := diff.Diff(base, &t)
	if ent.Removed && prev != nil && len(changes) == 0 {
		// Back after removal, as it was: say so, or consumers would keep
		// it for gone.
		changes = []diff.Event{diff.Returned(prev, &t)}
	}
	events = append(events, changes...)
	if len(events) == 0 && !ent.Removed && !ent.RowOnly && !ent.RowAhead && diff.Equal(prev, &t) {
		c.p.observe(t.ID)
		return nil // the common case: one call, one comparison, no write
	}
	if prev == nil || prev.NormStatus() != t.NormStatus() {
		rec.StatusSince = at
	}
	rec.Task = &t
	rec.Removed = false
	rec.RowOnly = false
	rec.RowAhead = false
	if err := c.commit(ctx, at, t.ID, ent, rec, events, gap); err != nil {
		return err
	}
	c.p.jgap.Delete(t.ID)
	c.p.observe(t.ID)
	return nil
}

// gap says why a change of the task may hide statuses it went through
// unobserved: the first sight since this process started (the watcher
// was not running before), or blindness (of the task or the whole API).
func (c *cycle) gap(task string, ent state.Entry) string {
	switch {
	case ent.Task == nil:
		return ""
	case ent.Blind != nil || c.apiWasBlind:
		return "watcher was blind"
	case c.p.dropped(task):
		return gapDropped
	}
	if !c.p.observed.has(task) {
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
	switch _, listed := c.listed[id]; {
	case ent.Task != nil:
		events = append(events, diff.RemovedEvent(ent.Task))
	case listed:
		// Never seen, yet listed: a row of an id the API does not know.
		// Nothing was told of it (its detail answer was awaited), so
		// nothing is; remembered, so the warning is given once.
		c.p.o.Logger.Warn().Str("task_id", id).Msg("listed task unknown to the API (DCS.4133): its list row is ignored")
	default:
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
