package poller

import (
	"context"
	"errors"
	"fmt"
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
	// Auto spends a budget of detail calls per cycle (poll.detail: auto):
	// RateLimit (calls per second the client allows) times the schedule's
	// interval (Interval, or the spacing of the cron spec's next two
	// activations under Run), less the list pages, the calls of rows that
	// changed but not their status and the absent-task checks, goes to the
	// detail calls of new tasks and of status changes told from rows,
	// then to detail refreshes by priority: incremental phase first, then other active, pending,
	// terminal; oldest refresh first within a class. RefreshActive and
	// RefreshTerminal then pace only the re-checks of tasks missing from
	// the list; twice RefreshActive is when the oldest refresh is worth a
	// warning.
	Auto      bool
	RateLimit float64
	Interval  time.Duration
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
	// Fence, when set, is asked before every snapshot write and every
	// publish whether this replica may still make it (it holds the
	// project's lease); its error stops the write.
	Fence func(ctx context.Context) error
	// Journal keeps the observations the store does not take until it
	// does (journal.go); Offline, when set, says the store's connection is
	// down, so that a cycle journals at once instead of waiting for writes
	// to time out.
	Journal JournalOptions
	Offline func() bool
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
	// Rows are listed tasks seen for the first time whose list row became
	// their first snapshot (and their discovered event) without waiting
	// for a detail call: those the budget had no detail call for.
	Rows int
	// Moved are status changes told from a list row, before the task's
	// detail call.
	Moved int
	// Budget is the calls (list pages included) the cycle may make with
	// Auto; 0 without a budget.
	Budget int
	// OldestRefresh is how long ago the least recently read listed task
	// had its last detail call (list-driven cycles); a task never read by
	// this process counts from when this process first listed it.
	OldestRefresh time.Duration
	Skipped       bool
	Duration      time.Duration
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
	// A sync.Map: each key is stored once and then only read, by every
	// worker of every cycle, without a lock.
	observed sync.Map
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

	j    *journal
	jgap sync.Map // tasks whose observations the journal could not keep

	// sched is the schedule Run polls on: the interval of Auto's budget.
	sched cron.Schedule

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
		absent: map[string]time.Time{}, unsettled: map[string]bool{}, stale: map[string]bool{}, tried: map[string]bool{},
		j: openJournal(o.Journal, o.ProjectID, o.Logger),
	}
}

// Run polls once at once and then on every tick of the cron spec until ctx
// is done. A tick that comes while a cycle still runs is skipped.
func (p *Poller) Run(ctx context.Context, spec string) error {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return fmt.Errorf("poller: schedule %q: %w", spec, err)
	}
	p.sched = sched
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
	ev.Int("tasks", st.Tasks).Int("rows", st.Rows).Int("fetched", st.Fetched).Int("failed", st.Failed).
		Int("events", st.Events).Int("writes", st.Writes).Bool("paused", st.Skipped).
		Dur("took", st.Duration).Msg("cycle")
}

// result is the outcome of one detail call.
type result struct {
	id      string
	task    dcs.Task
	info    dcs.Info
	err     error
	skipped bool      // not called: the cycle was cut short
	at      time.Time // when the answer came
}

// Cycle runs one watch cycle. It returns an error when the API could not be
// seen or an event could not be published or stored; per-task problems are
// reported as events and counted in Stats.
//
// Each task's events are published and its snapshot stored as soon as its
// own answer is in (the list row of a task seen for the first time, then
// each detail call), so a large fleet is covered early in the cycle and
// memory holds what is in flight, not the cycle. The one exception is a
// cycle that starts with the API blind: whether it recovers depends on
// every call of the cycle, and its watch_recovered comes before the
// changes seen with it, so that cycle collects its answers first.
func (p *Poller) Cycle(ctx context.Context) (Stats, error) {
	start := p.o.Now()
	var st Stats
	if start.Before(p.pauseUntil) {
		st.Skipped = true
		return st, nil
	}
	c := &cycle{p: p, now: start, stats: &st}
	if err := c.fence(ctx); err != nil {
		return st, err // another replica polls this project now
	}
	c.staleN.Store(int64(len(p.stale)))
	// What JetStream may still lack is published first: until it is, the
	// stream could disagree with the snapshots, and NATS is away anyway.
	if err := c.resume(ctx); err != nil {
		st.Duration = p.o.Now().Sub(start)
		return st, err
	}
	apiEnt, _ := p.st.Get(p.o.ProjectID, state.API)
	// An unusable list answer blinds nothing: every known task is read
	// by its own detail call meanwhile.
	p.apiWasBlind = apiEnt.Blind != nil && apiEnt.Blind.Class != dcs.Class(dcs.ErrBadResponse)
	c.batch = apiEnt.Blind != nil

	tg, listErr := p.targets(ctx, start)
	if listErr != nil {
		st.Failed++
		p.logCallErr(listErr, "", dcs.Info{}, "list tasks")
	}
	st.Tasks, st.Refreshes, st.Budget = tg.watched, tg.refreshes, tg.budget
	c.listed = tg.listed
	c.apiErr = listErr
	c.seen = listErr == nil && p.o.Discover
	if !c.batch {
		if listErr != nil {
			c.apiDown(ctx)
		}
		c.fromRows(ctx, tg)
	}
	var results []result
	if listErr == nil || !stopsCycle(listErr) {
		results = p.fetch(ctx, c, tg)
	}
	st.Fetched = int(c.fetched.Load())
	if st.Fetched > 0 {
		c.seen = true
	}
	if c.apiFailures > 1 {
		p.o.Logger.Warn().Int("calls", c.apiFailures).Str("class", dcs.Class(c.apiErr)).
			Msg("detail calls failed alike: the DCS API cannot be seen")
	}
	p.updatePause(c.apiErr)

	if c.batch {
		c.addErr(c.api(ctx, p.o.Now(), c.apiErr, c.seen))
		c.fromRows(ctx, tg)
		for _, r := range results {
			if ctx.Err() != nil {
				break
			}
			c.apply(ctx, r)
		}
	}
	if tg.listed != nil && !p.o.EveryCycle {
		p.reportStaleness(&st, start, tg)
	}
	if c.apiErr != nil {
		c.addErr(fmt.Errorf("dcs api: %w", c.apiErr))
	}
	st.Duration = p.o.Now().Sub(start)
	return st, errors.Join(c.errs...)
}

// reportStaleness sets OldestRefresh and says how stale the fleet's
// detail reads are: at debug every cycle, as a warning once the oldest is
// older than twice RefreshActive (a fleet too large for the budget).
func (p *Poller) reportStaleness(st *Stats, now time.Time, tg targets) {
	st.OldestRefresh = p.plan.oldest(now)
	ev := p.o.Logger.Debug()
	if p.o.RefreshActive > 0 && st.OldestRefresh > 2*p.o.RefreshActive {
		ev = p.o.Logger.Warn()
	}
	ev.Int("listed", len(tg.listed)).Int("budget", tg.budget).Int("calls", len(tg.fetch)).
		Int("refreshes", tg.refreshes).Dur("oldest_refresh", st.OldestRefresh).Msg("detail refreshes")
}

// budgetShare is the part of the interval the budget fills with calls at
// the rate limit: the rest is for the list's latency, the snapshot writes
// and the publishes, so that a cycle ends before the next tick.
const budgetShare = 0.9

// Interval is the time between cycles Auto's budget is based on: Options'
// Interval, or the spacing of the schedule's next two activations from
// now (0 before Run).
func (p *Poller) Interval() time.Duration { return p.interval(p.o.Now()) }

// observe marks a task as seen since this process started.
func (p *Poller) observe(id string) {
	if _, ok := p.observed.Load(id); !ok {
		p.observed.Store(id, true)
	}
}

// fetch calls Show for every id of tg.fetch with bounded concurrency and
// hands each answer to the cycle as it comes (or, when the cycle collects
// them, returns them in order). An auth failure or throttling cuts the
// cycle short: more calls would only lock the AK or deepen the throttling.
// Refreshes not started by tg.deadline are left for the next cycle.
func (p *Poller) fetch(ctx context.Context, c *cycle, tg targets) []result {
	ids := tg.fetch
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var results []result
	if c.batch {
		results = make([]result, len(ids))
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(p.o.Concurrency, len(ids)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				var r result
				if i >= tg.refreshFrom && !tg.deadline.IsZero() && p.o.Now().After(tg.deadline) {
					r = result{id: ids[i], skipped: true}
				} else {
					r = p.fetchOne(cctx, ids[i])
				}
				if r.err != nil && stopsCycle(r.err) {
					cancel()
				}
				c.tally(r)
				if c.batch {
					results[i] = r
				} else if ctx.Err() == nil {
					c.apply(ctx, r)
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
	return result{id: id, task: t, info: info, err: err, at: p.o.Now()}
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
