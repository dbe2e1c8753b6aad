package poller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/state"
)

// Fetcher reads tasks from the DCS API.
type Fetcher interface {
	Show(ctx context.Context, taskID string) (dcs.Task, dcs.Info, error)
	List(ctx context.Context, name string) ([]dcs.Task, error)
}

// Publisher wraps events in their envelope and delivers them, returning
// once each is stored durably.
type Publisher interface {
	Envelope(ev diff.Event, m notify.Meta) notify.Envelope
	// Send reports whether the stream already held the event's id.
	Send(ctx context.Context, env notify.Envelope) (duplicate bool, err error)
}

// Store holds the last snapshot of each task; task state.API is the record
// about the API as a whole.
type Store interface {
	Get(project, task string) (state.Entry, bool)
	Put(ctx context.Context, project, task string, rec state.Record) error
	// Tasks are the project's entries that hold a snapshot.
	Tasks(project string) []state.Entry
	// Refresh reads a record again from storage, after a write whose
	// outcome is unknown.
	Refresh(ctx context.Context, project, task string) (state.Entry, error)
}

// Options configures a Poller.
type Options struct {
	ProjectID string
	// TaskIDs are always watched; with Discover, so is every listed task.
	TaskIDs    []string
	Discover   bool
	NameFilter string
	// EveryCycle makes a detail call for every task on every cycle. Without
	// it, a listed task gets one only when its list row differs from its
	// snapshot, when it is new or blind, or when its refresh is due.
	EveryCycle bool
	// RefreshActive and RefreshTerminal are how often a listed task whose
	// row did not change still gets a detail call (for what the list does
	// not carry: task_status, bandwidth, backup files), by phase; 0 means
	// never. Refreshes are spread over the period by task id.
	RefreshActive   time.Duration
	RefreshTerminal time.Duration
	// AbsentChecks bounds the detail calls a cycle makes for known tasks the
	// list no longer shows (default 50): a missing task is only suspected
	// gone until its own detail call says so, and a thousand missing tasks
	// are confirmed over several cycles, not in one burst.
	AbsentChecks int
	// Concurrency bounds parallel detail calls (default 8).
	Concurrency int
	Now         func() time.Time
	Logger      zerolog.Logger
	// Published hears of each event once JetStream has acknowledged it:
	// stored by this process, or by an earlier attempt of this process
	// whose ack was lost; not an event another replica stored.
	Published func(notify.Envelope)
	// Cycled hears of each cycle Run starts, when it ends.
	Cycled func(Stats, error)
}

// Stats describes one cycle.
type Stats struct {
	Tasks   int // tasks looked at
	Fetched int // successful detail calls
	Failed  int // failed detail or list calls
	Events  int // events published
	Writes  int // snapshot writes
	// Refreshes are detail calls made only because a task's refresh was
	// due (list-driven cycles).
	Refreshes int
	Skipped   bool
	Duration  time.Duration
}

// Poller runs watch cycles. Cycle must not run concurrently with itself;
// Run guarantees that.
type Poller struct {
	f   Fetcher
	pub Publisher
	st  Store
	o   Options

	plan *plan // list-driven: which listed tasks need a detail call
	// absent holds, for each known task the list does not show, when its
	// detail call last said it still exists; absentFrom is where the next
	// cycle's checks start, so that every suspect gets its turn.
	absent     map[string]time.Time
	absentFrom string
	// observed are the tasks seen (by a detail call, or a list row that
	// matched the snapshot) since this process started: a change of any
	// other may hide statuses passed through while no watcher ran.
	observed map[string]bool
	// apiWasBlind: the API was blind when the cycle started.
	apiWasBlind bool
	// unsettled are records whose outbox may still hold events; scanned
	// is set once every record has been looked at after the start.
	// stale are records whose last write failed without saying whether it
	// was stored: they are read again before use.
	unsettled map[string]bool
	stale     map[string]bool
	// tried are the events whose publish failed here: if the stream turns
	// out to hold them, it was this process's lost ack.
	tried   map[string]bool
	scanned bool

	running sync.Mutex
	// pauseUntil holds API calls back after an auth failure or throttling:
	// more than 5 failed signatures lock the AK for 5 minutes.
	pauseUntil time.Time
	authPause  time.Duration
}

// New returns a Poller.
func New(f Fetcher, pub Publisher, st Store, o Options) *Poller {
	if o.Concurrency < 1 {
		o.Concurrency = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Published == nil {
		o.Published = func(notify.Envelope) {}
	}
	if o.Cycled == nil {
		o.Cycled = func(Stats, error) {}
	}
	if o.AbsentChecks < 1 {
		o.AbsentChecks = 50
	}
	return &Poller{
		f: f, pub: pub, st: st, o: o, plan: newPlan(o.RefreshActive, o.RefreshTerminal),
		absent: map[string]time.Time{}, observed: map[string]bool{}, unsettled: map[string]bool{}, stale: map[string]bool{}, tried: map[string]bool{},
	}
}

// Run polls once at once and then on every tick of the cron spec until ctx
// is done. A tick that comes while a cycle still runs is skipped.
func (p *Poller) Run(ctx context.Context, spec string) error {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return fmt.Errorf("poller: schedule %q: %w", spec, err)
	}
	c := cron.New()
	c.Schedule(sched, cron.FuncJob(func() { p.tick(ctx) }))
	c.Start()
	p.tick(ctx) // at once; ticks that come while it runs are skipped
	<-ctx.Done()
	<-c.Stop().Done()
	return nil
}

func (p *Poller) tick(ctx context.Context) {
	if !p.running.TryLock() {
		p.o.Logger.Warn().Msg("previous cycle still running: tick skipped")
		return
	}
	defer p.running.Unlock()
	if ctx.Err() != nil {
		return
	}
	st, err := p.Cycle(ctx)
	p.o.Cycled(st, err)
	ev := p.o.Logger.Info()
	if err != nil {
		ev = p.o.Logger.Warn().Err(err)
	}
	ev.Int("tasks", st.Tasks).Int("fetched", st.Fetched).Int("failed", st.Failed).
		Int("events", st.Events).Int("writes", st.Writes).Bool("paused", st.Skipped).
		Dur("took", st.Duration).Msg("cycle")
}

// result is the outcome of one detail call.
type result struct {
	id      string
	task    dcs.Task
	info    dcs.Info
	err     error
	skipped bool // not called: the cycle was cut short
}

// Cycle runs one watch cycle. It returns an error when the API could not be
// seen or an event could not be published or stored; per-task problems are
// reported as events and counted in Stats.
func (p *Poller) Cycle(ctx context.Context) (Stats, error) {
	start := p.o.Now()
	var st Stats
	if start.Before(p.pauseUntil) {
		st.Skipped = true
		return st, nil
	}
	c := &cycle{p: p, now: start, stats: &st}
	// What JetStream may still lack is published first: until it is, the
	// stream could disagree with the snapshots, and NATS is away anyway.
	if err := c.settleAll(ctx); err != nil {
		st.Duration = p.o.Now().Sub(start)
		return st, err
	}
	apiEnt, _ := p.st.Get(p.o.ProjectID, state.API)
	// An unusable list answer blinds nothing: every known task is read
	// by its own detail call meanwhile.
	p.apiWasBlind = apiEnt.Blind != nil && apiEnt.Blind.Class != dcs.Class(dcs.ErrBadResponse)

	tg, listErr := p.targets(ctx, start)
	if listErr != nil {
		st.Failed++
		p.logCallErr(listErr, "", dcs.Info{}, "list tasks")
	}
	ids, listed := tg.fetch, tg.listed
	var results []result
	if listErr == nil || !stopsCycle(listErr) {
		results = p.fetch(ctx, ids)
	}
	st.Tasks, st.Refreshes = tg.watched, tg.refreshes

	apiErr := listErr
	seen := listErr == nil && p.o.Discover
	apiFailures := 0
	for _, r := range results {
		switch {
		case r.skipped:
		case r.err == nil:
			seen = true
			st.Fetched++
		case errors.Is(r.err, dcs.ErrGone):
			// Not a failure: the task is reported removed, once.
			p.o.Logger.Debug().Str("task_id", r.id).Msg("task not found (DCS.4133)")
		case apiWide(r.err):
			// An outage fails every call the same way: log the first in
			// full, count the rest, instead of one warning per task.
			st.Failed++
			apiFailures++
			if apiFailures == 1 {
				p.logCallErr(r.err, r.id, r.info, "show task")
			}
			if apiErr == nil || stopsCycle(r.err) {
				apiErr = r.err
			}
		default:
			st.Failed++
			p.logCallErr(r.err, r.id, r.info, "show task")
		}
	}
	if apiFailures > 1 {
		p.o.Logger.Warn().Int("calls", apiFailures).Str("class", dcs.Class(apiErr)).
			Msg("detail calls failed alike: the DCS API cannot be seen")
	}
	p.updatePause(apiErr)

	var errs []error
	errs = append(errs, c.api(ctx, apiErr, seen))
	for _, r := range results {
		if ctx.Err() != nil {
			break
		}
		switch {
		case r.skipped:
		case r.err == nil:
			row, listedNow := listed[r.id]
			var rowp *dcs.Task
			if listedNow {
				rowp = &row
			}
			err := c.observe(ctx, r.task, rowp, r.info.Nulls)
			switch {
			case err != nil:
			case listedNow && !p.o.EveryCycle:
				p.plan.done(row, start)
			case !listedNow && listed != nil:
				p.absent[r.id] = start // missing from the list, yet it answers
			}
			errs = append(errs, err)
		case errors.Is(r.err, dcs.ErrGone):
			errs = append(errs, c.remove(ctx, r.id, "the API answers: task not found"))
		case apiWide(r.err):
			// reported once, as the API's blindness
		default:
			errs = append(errs, c.blind(ctx, r.id, r.err))
		}
	}
	if apiErr != nil {
		errs = append(errs, fmt.Errorf("dcs api: %w", apiErr))
	}
	st.Duration = p.o.Now().Sub(start)
	return st, errors.Join(errs...)
}

// targets is what a cycle calls the API for.
type targets struct {
	fetch     []string            // detail calls to make: new and changed tasks first, then suspects, then refreshes
	listed    map[string]dcs.Task // the list rows by id; nil without discovery or when the list failed
	watched   int                 // tasks watched
	refreshes int                 // calls in fetch made only because a refresh was due
}

// targets lists the tasks (with discovery) and decides which need a detail
// call: every watched task with EveryCycle, else only those the plan picks
// (plus configured tasks the list does not show).
func (p *Poller) targets(ctx context.Context, now time.Time) (targets, error) {
	var tg targets
	set := map[string]bool{}
	for _, id := range p.o.TaskIDs {
		set[id] = true
	}
	if !p.o.Discover {
		tg.fetch = sortedKeys(set)
		tg.watched = len(tg.fetch)
		return tg, nil
	}
	rows, err := p.f.List(ctx, p.o.NameFilter)
	if err != nil {
		// Keep watching what we know: a list failure must not blind us to
		// tasks whose detail call still works. List-driven, not when the
		// API as a whole fails: that would fail every detail call alike, at
		// one call per task.
		if p.o.EveryCycle || !apiWide(err) {
			for _, e := range p.st.Tasks(p.o.ProjectID) {
				if !e.Removed {
					set[e.Task.ID] = true
				}
			}
		}
		tg.fetch = sortedKeys(set)
		tg.watched = len(tg.fetch)
		return tg, err
	}
	tg.listed = make(map[string]dcs.Task, len(rows))
	for _, r := range rows {
		if r.ID != "" {
			tg.listed[r.ID] = r
		}
	}
	for id := range tg.listed {
		delete(p.absent, id)
	}
	suspects, unlisted := p.suspects(tg.listed, set, now)
	if p.o.EveryCycle {
		for id := range tg.listed {
			set[id] = true
		}
		tg.fetch = append(sortedKeys(set), suspects...)
		tg.watched = len(set) + unlisted
		return tg, nil
	}
	p.plan.keep(tg.listed)
	var later []string
	for _, id := range sortedKeys(tg.listed) {
		delete(set, id)
		ent, _ := p.st.Get(p.o.ProjectID, id)
		switch p.plan.reason(tg.listed[id], ent, now) {
		case skip:
			p.observed[id] = true // the row shows the snapshot's state
		case refresh:
			p.observed[id] = true
			later = append(later, id)
		default:
			tg.fetch = append(tg.fetch, id)
		}
	}
	tg.fetch = append(tg.fetch, sortedKeys(set)...) // configured, not listed
	tg.fetch = append(tg.fetch, suspects...)
	tg.fetch = append(tg.fetch, later...)
	tg.watched = len(tg.listed) + len(set) + unlisted
	tg.refreshes = len(later)
	return tg, nil
}

// suspects are the known tasks (not removed, not configured) that the list
// did not show and whose detail call is due: absence is not evidence, so
// only that call can say a task is gone. A suspect never checked since it
// went missing is due at once; one that answered is checked again when its
// refresh slot comes round (daily when refreshes are off). At most
// AbsentChecks a cycle, taking turns. unlisted counts every known task the
// list did not show.
func (p *Poller) suspects(listed map[string]dcs.Task, configured map[string]bool, now time.Time) (due []string, unlisted int) {
	var all []string
	for _, e := range p.st.Tasks(p.o.ProjectID) {
		id := e.Task.ID
		if _, ok := listed[id]; ok || e.Removed || configured[id] {
			continue
		}
		unlisted++
		last, checked := p.absent[id]
		if checked && !p.plan.dueOrDaily(id, e.Task.NormStatus(), last, now) {
			continue
		}
		all = append(all, id)
	}
	// Tasks() is sorted by id: start after the last suspect checked.
	i := sort.SearchStrings(all, p.absentFrom)
	if i < len(all) && all[i] == p.absentFrom {
		i++
	}
	all = slices.Concat(all[i:], all[:i])
	due = all[:min(len(all), p.o.AbsentChecks)]
	if len(due) > 0 {
		p.absentFrom = due[len(due)-1]
	}
	return due, unlisted
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fetch calls Show for every id with bounded concurrency. An auth failure or
// throttling cuts the cycle short: more calls would only lock the AK or
// deepen the throttling.
func (p *Poller) fetch(ctx context.Context, ids []string) []result {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]result, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(p.o.Concurrency, len(ids)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = p.fetchOne(cctx, ids[i])
				if results[i].err != nil && stopsCycle(results[i].err) {
					cancel()
				}
			}
		}()
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

func (p *Poller) fetchOne(ctx context.Context, id string) result {
	if ctx.Err() != nil {
		return result{id: id, skipped: true}
	}
	t, info, err := p.f.Show(ctx, id)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return result{id: id, skipped: true}
	}
	if err == nil && t.ID == "" {
		t.ID = id
	}
	return result{id: id, task: t, info: info, err: err}
}

func (p *Poller) updatePause(apiErr error) {
	now := p.o.Now()
	switch {
	case apiErr == nil:
		p.authPause = 0
	case errors.Is(apiErr, dcs.ErrAuth):
		// The gateway locks an AK for 5 minutes after more than 5
		// consecutive failures: back off from 30 s, doubling, up to 10 min.
		p.authPause = min(max(2*p.authPause, 30*time.Second), 10*time.Minute)
		p.pauseUntil = now.Add(p.authPause)
	case errors.Is(apiErr, dcs.ErrThrottled):
		d := time.Second
		var ae *dcs.APIError
		if errors.As(apiErr, &ae) && ae.RetryAfter > 0 {
			d = ae.RetryAfter
		}
		p.pauseUntil = now.Add(d)
	}
}

func (p *Poller) logCallErr(err error, id string, info dcs.Info, what string) {
	ev := p.o.Logger.Warn().Err(err).Str("class", dcs.Class(err))
	if id != "" {
		ev = ev.Str("task_id", id)
	}
	rid := info.RequestID
	var ae *dcs.APIError
	if rid == "" && errors.As(err, &ae) {
		rid = ae.RequestID
	}
	if rid != "" {
		ev = ev.Str("request_id", rid)
	}
	ev.Msg(what + " failed")
}

// apiWide reports whether an error says the API as a whole cannot be seen
// (credentials, throttling, outage) rather than one task's answer being bad.
func apiWide(err error) bool {
	return errors.Is(err, dcs.ErrAuth) || errors.Is(err, dcs.ErrThrottled) || errors.Is(err, dcs.ErrRetryable)
}

// stopsCycle reports whether further calls in this cycle would do harm.
func stopsCycle(err error) bool {
	return errors.Is(err, dcs.ErrAuth) || errors.Is(err, dcs.ErrThrottled)
}
