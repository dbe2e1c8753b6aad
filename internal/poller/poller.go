package poller

import (
	"errors"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// Poller runs watch cycles. Cycle must not run concurrently with itself;
// Run guarantees that.
type Poller struct {
	f  Fetcher
	st Store
	o  Options
	// box commits every change with the events it owes (outbox.go).
	box *outbox

	plan *plan // list-driven: which listed tasks need a detail call
	prog *progress
	attn attending // recent progress samples, for the attention episodes
	// absent holds, for each known task the list does not show, when its
	// detail call last said it still exists; absentFrom is where the next
	// cycle's checks start, so that every suspect gets its turn.
	absent     map[string]time.Time
	absentFrom string
	// observed are the tasks seen (by a detail call, or a list row that
	// matched the snapshot) since this process started: a change of any
	// other may hide statuses passed through while no watcher ran.
	observed seenSet

	j    *journal
	jgap sync.Map // tasks whose observations the journal could not keep

	// sched is the schedule Run polls on: the interval of DetailAuto's budget.
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
	if o.OnProgress == nil {
		o.OnProgress = func(string, string, dcs.Stats, time.Time) {}
	}
	if o.Detail == "" {
		o.Detail = DetailOnChange
	}
	return &Poller{
		f: f, st: st, o: o, plan: newPlan(o.RefreshActive, o.RefreshTerminal), prog: newProgress(),
		absent: map[string]time.Time{}, box: newOutbox(st, pub, o),
		j: openJournal(o.Journal, o.ProjectID, o.Logger),
	}
}

// observe marks a task as seen since this process started.
func (p *Poller) observe(id string) {
	p.observed.add(id)
}

// dropped reports whether the journal could not keep some of the task's
// observations, since its last commit.
func (p *Poller) dropped(task string) bool {
	_, ok := p.jgap.Load(task)
	return ok
}

// Journaled is how many observations wait in the journal.
func (p *Poller) Journaled() int { return p.j.pending() }

// Progress returns the last progress of a task this poller observed (the
// stats call) and when it came; false before its first answer and once the
// task is no longer active.
func (p *Poller) Progress(taskID string) (dcs.Stats, time.Time, bool) {
	return p.prog.get(taskID)
}

// EachProgress calls fn with the last progress of every active task this
// poller observed, for the gauges.
func (p *Poller) EachProgress(fn func(taskID string, st dcs.Stats, at time.Time)) {
	p.prog.each(fn)
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
