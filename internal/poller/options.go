package poller

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/attention"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/state"
)

// Fetcher reads tasks from the DCS API.
type Fetcher interface {
	Show(ctx context.Context, taskID string) (dcs.Task, dcs.Info, error)
	List(ctx context.Context, name string) ([]*dcs.Task, error)
}

// Publisher wraps events in their envelope and delivers them, returning
// once each is stored durably.
type Publisher interface {
	Envelope(ev diff.Event, m notify.Meta) notify.Envelope
	// SendStored publishes an envelope's JSON body, as the outbox stored
	// it, on subject with id as its message id; it reports whether the
	// stream already held the id.
	SendStored(ctx context.Context, subject, id string, body []byte) (duplicate bool, err error)
}

// Silencer says which silence, if any, holds an event observed at now:
// the event is still published, marked data.silenced with the id.
type Silencer interface {
	Silenced(d notify.Data, now time.Time) (id string, ok bool)
}

// Store holds the last snapshot of each task; task state.API is the record
// about the API as a whole.
type Store interface {
	Get(project, task string) (state.Entry, bool)
	Put(ctx context.Context, project, task string, rec state.Record) error
	// Tasks are the project's entries that hold a snapshot.
	Tasks(project string) []state.Entry
	// Each calls f with each of them, in no order; f must not call the
	// store, nor keep an entry's Task (its strings it may).
	Each(project string, f func(state.Entry))
	// Refresh reads a record again from storage, after a write whose
	// outcome is unknown.
	Refresh(ctx context.Context, project, task string) (state.Entry, error)
	// GetInto is Get with the snapshot unpacked into *t (the entry's
	// Task is t, or nil): for a pass over many that keeps none.
	GetInto(project, task string, t *dcs.Task) (state.Entry, bool)
}

// Options configures a Poller.
type Options struct {
	ProjectID string
	// TaskIDs are always watched; with Discover, so is every listed task.
	TaskIDs    []string
	Discover   bool
	NameFilter string
	// Detail says when a listed task gets a detail call (poll.detail);
	// DetailOnChange when left out.
	Detail Detail
	// RefreshActive and RefreshTerminal are how often a listed task whose
	// row did not change still gets a detail call (for what the list does
	// not carry: task_status, bandwidth, backup files), by phase; 0 means
	// never. Refreshes are spread over the period by task id.
	RefreshActive   time.Duration
	RefreshTerminal time.Duration
	// DetailAuto spends a budget of detail calls per cycle: RateLimit
	// (calls per second the client allows) times the schedule's interval
	// (Interval, or the spacing of the cron spec's next two activations
	// under Run), less the list pages, the calls of rows that changed but
	// not their status and the absent-task checks, goes to the detail
	// calls of new tasks and of status changes told from rows, then to
	// detail refreshes by priority: incremental phase first, then other
	// active, pending, terminal; oldest refresh first within a class. RefreshActive and
	// RefreshTerminal then pace only the re-checks of tasks missing from
	// the list; twice RefreshActive is when the oldest refresh is worth a
	// warning.
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
	// Listed hears of the number of tasks each list answer held, before
	// the cycle works on them (the soft memory limit is sized by it).
	Listed func(tasks int)
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
	// Silencer, when set, marks the events a silence or a maintenance
	// window holds (data.silenced), when their envelope is built; nil
	// silences nothing. The mark is stored with the event in the outbox,
	// so a re-publish carries the same mark.
	Silencer Silencer
	// Stats, when set, makes the stats call of each task in an active
	// status (MIGRATING, FULLMIGRATING, INCRMIGEATING): its progress,
	// carried by the task's events and kept for Progress. The calls come
	// after the detail calls, within the budget when one is known
	// (RateLimit and the interval): with DetailAuto after the list, the
	// detail calls of changed rows and new tasks and the absence checks,
	// sharing the rest with the refreshes (at least half of it, and all
	// the refreshes leave); the task asked longest ago first.
	Stats StatsFetcher
	// StatsEvery, when above 0, is how old a task's last stats call must
	// be for the next (poll.stats_every); 0: every cycle, as far as the
	// budget allows.
	StatsEvery time.Duration
	// OnProgress hears of each stats answer: the task, its name, the
	// answer and when it came. Called from the cycle's workers: it must
	// not block.
	OnProgress func(taskID, name string, st dcs.Stats, at time.Time)
	// Attention is what a task's stalled and resumed episodes are judged
	// by, after each cycle (attention.go); the zero Config judges none.
	Attention attention.Config
	// Logs, when set, gives a failure (a status_changed to a failure
	// status) and a stall (progress_stalled) the task's last ERROR lines
	// (logtail.go): one logs call each, counted in the cycle's budget.
	Logs LogFetcher
}

// Detail is when a listed task gets a detail call: the values of
// poll.detail, spelled as the configuration spells them.
type Detail string

const (
	// DetailOnChange: only when its list row differs from its snapshot,
	// when it is new or blind, or when its refresh is due.
	DetailOnChange Detail = "on_change"
	// DetailEveryCycle: every task on every cycle.
	DetailEveryCycle Detail = "every_cycle"
	// DetailAuto: the changed rows, then as many refreshes as the budget
	// of the cycle leaves (Options.RateLimit).
	DetailAuto Detail = "auto"
)

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
	// DetailAuto; 0 without a budget.
	Budget int
	// OldestRefresh is how long ago the least recently read listed task
	// had its last detail call (list-driven cycles); a task never read by
	// this process counts from when this process first listed it.
	OldestRefresh time.Duration
	// StatsCalls are the stats calls answered, StatsFailed those that
	// failed.
	StatsCalls, StatsFailed int
	// Logs are the logs calls made for failures and stalls.
	Logs     int
	Skipped  bool
	Duration time.Duration
}

// Add adds o's counts and duration to s (several cycles, or several
// projects' cycles, as one). Skipped and OldestRefresh, which do not add,
// are left as they are.
func (s *Stats) Add(o Stats) {
	s.Tasks += o.Tasks
	s.Fetched += o.Fetched
	s.Failed += o.Failed
	s.Events += o.Events
	s.Writes += o.Writes
	s.Refreshes += o.Refreshes
	s.Rows += o.Rows
	s.Moved += o.Moved
	s.Budget += o.Budget
	s.StatsCalls += o.StatsCalls
	s.StatsFailed += o.StatsFailed
	s.Logs += o.Logs
	s.Duration += o.Duration
}
