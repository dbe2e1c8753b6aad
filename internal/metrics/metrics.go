// Package metrics holds the watcher's Prometheus metrics and its readiness.
// Metrics lives as long as the process: a reload (SIGHUP) starts a new app
// and re-attaches its sources (snapshots, Slack notifier, NATS connection),
// so counters keep counting across reloads. Every label is bounded: API call
// and outcome, cycle result, event kind, task status and phase, Slack
// outcome; never a task name. The task gauges (progress, lag) carry a project
// and a task id: bounded by the fleet's active tasks (a task's series goes
// when it leaves the active phase) and capped at maxTaskSeries.
package metrics

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/robfig/cron/v3"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/delivery"
	"github.com/dcs-watcher/watcher/internal/poller"
)

const namespace = "dcs_watcher"

// Sources are what the metrics read at scrape time from a running app.
// Any may be nil.
type Sources struct {
	// Statuses returns the normalised status of every watched task (not
	// removed).
	Statuses func() []dcs.Status
	// Progress hands fn the last progress of every active task this
	// replica polls, with its project.
	Progress func(fn func(project, taskID string, st dcs.Stats))
	// Slack returns the Slack notifier's counters since it started.
	Slack func() delivery.Stats
	// NATSConnected reports whether the NATS connection is up.
	NATSConnected func() bool
	// Store says why the embedded server's store does not write (a full
	// disk); nil while it writes. Nil with an external NATS.
	Store func() error
	// StoreStuck says why the store is past recovering by itself, so that
	// only a restart of the process may help; nil otherwise.
	StoreStuck func() error
	// Leases returns how many project leases this replica holds and how
	// many replicas are alive; nil when there are no leases (embedded
	// NATS: the process polls every project).
	Leases func() (held, live int)
	// SlackSocket says whether the Socket Mode connection of the cards'
	// buttons is up; nil without buttons (no slack.app_token). A socket
	// down leaves the watcher ready: it still watches and posts, only
	// clicks wait (Slack keeps them until a connection acks them).
	SlackSocket func() bool
}

// Metrics is the watcher's registry and the state behind readiness.
type Metrics struct {
	// Registry is the watcher's own, not the global one: nothing another
	// library registers leaks into /metrics, and tests get fresh ones.
	Registry *prometheus.Registry

	apiCalls   *prometheus.CounterVec
	apiLatency *prometheus.HistogramVec
	cycles     *prometheus.CounterVec
	cycleDur   prometheus.Histogram
	events     *prometheus.CounterVec

	lastOK   atomic.Int64 // unix nanoseconds of the last successful cycle; 0: none yet
	interval atomic.Int64 // the schedule's interval, nanoseconds
	oldest   atomic.Int64 // oldest refresh age, nanoseconds; -1: not set
	now      func() time.Time

	mu        sync.Mutex
	src       Sources
	slackBase delivery.Stats // counts of notifiers replaced by a reload
	// notStarted is why the last start failed, until an app is attached.
	notStarted error
}

// New returns Metrics with every family registered. now is the clock of
// readiness and ages (nil: time.Now).
func New(now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{Registry: prometheus.NewRegistry(), now: now}
	m.oldest.Store(-1)
	m.apiCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "api_calls_total",
		Help: "DCS API calls by call (show, list, stats, logs) and outcome (ok, gone, auth, throttled, unavailable, bad_response, request, canceled).",
	}, []string{"call", "outcome"})
	m.apiLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "api_call_duration_seconds",
		Help:    "Duration of DCS API calls, rate-limit wait included, by call and outcome.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"call", "outcome"})
	m.cycles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "cycles_total",
		Help: "Poll cycles by result: ok, error (the API could not be seen or an event not stored), paused (after auth failures or throttling).",
	}, []string{"result"})
	m.cycleDur = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "cycle_duration_seconds",
		Help:    "Duration of poll cycles that ran (not paused).",
		Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 12),
	})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "events_published_total",
		Help: "Events stored by JetStream, by kind.",
	}, []string{"kind"})
	m.Registry.MustRegister(m.apiCalls, m.apiLatency, m.cycles, m.cycleDur, m.events,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "last_successful_cycle_timestamp_seconds",
			Help: "Unix time of the end of the last successful cycle; 0 before the first.",
		}, func() float64 {
			if ns := m.lastOK.Load(); ns > 0 {
				return float64(ns) / 1e9
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "nats_connected",
			Help: "1 while the NATS connection is up, else 0.",
		}, func() float64 {
			if m.natsConnected() {
				return 1
			}
			return 0
		}),
		(*sourceCollector)(m),
		(*progressCollector)(m),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Attach makes the metrics read a (new) app's sources. The Slack counts of
// the notifier it replaces are kept, so the counters do not go back.
func (m *Metrics) Attach(s Sources) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.src.Slack != nil {
		m.slackBase = addStats(m.slackBase, m.src.Slack())
	}
	m.src, m.notStarted = s, nil
}

// NotStarted makes readiness false, saying why, until the next Attach: the
// watcher could not start (NATS away, a store not created yet) and tries
// again.
func (m *Metrics) NotStarted(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.notStarted = err
}

// SetSchedule sets the poll schedule readiness measures against: the
// interval between its next two activations.
func (m *Metrics) SetSchedule(spec string) error {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return fmt.Errorf("metrics: schedule %q: %w", spec, err)
	}
	next := s.Next(m.now())
	m.interval.Store(int64(s.Next(next).Sub(next)))
	return nil
}

// APICall counts one DCS API call; it is the dcs client's observer.
func (m *Metrics) APICall(call, outcome string, took time.Duration) {
	m.apiCalls.WithLabelValues(call, outcome).Inc()
	m.apiLatency.WithLabelValues(call, outcome).Observe(took.Seconds())
}

// Cycled records one poll cycle; it is the poller's Cycled hook.
func (m *Metrics) Cycled(st poller.Stats, err error) {
	switch {
	case st.Skipped:
		m.cycles.WithLabelValues("paused").Inc()
		return
	case err != nil:
		m.cycles.WithLabelValues("error").Inc()
	default:
		m.cycles.WithLabelValues("ok").Inc()
		m.lastOK.Store(m.now().UnixNano())
	}
	m.cycleDur.Observe(st.Duration.Seconds())
}

// Published counts one event stored by JetStream.
func (m *Metrics) Published(e notify.Envelope) {
	m.events.WithLabelValues(string(e.Data.Kind)).Inc()
}

// SetOldestRefreshAge sets the age of the oldest snapshot refresh (how far
// the least recently confirmed task lags); the poller calls it after a
// cycle once it tracks refreshes. The gauge is absent until set.
func (m *Metrics) SetOldestRefreshAge(d time.Duration) { m.oldest.Store(int64(max(d, 0))) }

// Ready says why the watcher is not ready, or nil: NATS must be connected,
// the embedded store must write, and a cycle must have succeeded within
// three intervals of the schedule. A replica that holds no lease (a
// standby: another replica polls) needs only NATS: it is ready to take a
// lease over.
func (m *Metrics) Ready() error {
	m.mu.Lock()
	notStarted := m.notStarted
	m.mu.Unlock()
	if notStarted != nil {
		return fmt.Errorf("watcher not started, trying again: %w", notStarted)
	}
	var errs []error
	if !m.natsConnected() {
		errs = append(errs, errors.New("NATS not connected"))
	}
	s, _ := m.sources()
	if s.Store != nil {
		if err := s.Store(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Leases != nil {
		if held, _ := s.Leases(); held == 0 {
			return errors.Join(errs...)
		}
	}
	last := m.lastOK.Load()
	window := 3 * time.Duration(m.interval.Load())
	switch {
	case last == 0:
		errs = append(errs, errors.New("no successful cycle yet"))
	case window > 0 && m.now().Sub(time.Unix(0, last)) > window:
		errs = append(errs, fmt.Errorf("last successful cycle %s ago, more than three intervals (%s)",
			m.now().Sub(time.Unix(0, last)).Round(time.Second), window))
	}
	return errors.Join(errs...)
}

// Live says why the process should be restarted, or nil: only a store
// stuck past recovering by itself says so. A full disk does not (a
// restart frees no space, and would drop what the watcher holds in memory
// meanwhile), nor does NATS away (the client reconnects).
func (m *Metrics) Live() error {
	if s, _ := m.sources(); s.StoreStuck != nil {
		return s.StoreStuck()
	}
	return nil
}

func (m *Metrics) sources() (Sources, delivery.Stats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.src, m.slackBase
}

func (m *Metrics) natsConnected() bool {
	s, _ := m.sources()
	return s.NATSConnected != nil && s.NATSConnected()
}

func addStats(a, b delivery.Stats) delivery.Stats {
	return delivery.Stats{
		Sent: a.Sent + b.Sent, Events: a.Events + b.Events, Skipped: a.Skipped + b.Skipped,
		Retried: a.Retried + b.Retried, Throttled: a.Throttled + b.Throttled, Failed: a.Failed + b.Failed,
		Dead: a.Dead + b.Dead, Quiet: a.Quiet + b.Quiet,
	}
}
