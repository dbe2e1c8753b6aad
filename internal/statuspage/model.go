package statuspage

import (
	"strings"
	"sync"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/state"
)

// The event kinds the model reads beyond status: h-attention's stalls.
const (
	kindStalled = "stalled"
	kindResumed = "resumed"
)

// maxReason bounds a failure reason as the model keeps it.
const maxReason = 300

// task is what the model keeps of one task: only what the pages show,
// strings interned where they repeat, events in a bounded ring.
type task struct {
	project, id, name string
	status            string // as the API spelled it
	since, written    time.Time
	removed           bool
	blind             string // blindness class, "" when seen
	stalled           bool
	source, target    Endpoint
	lastErr           string
	lastKind          string
	lastAt            time.Time
	progress          *Progress
	events            []event // oldest first, at most Model.maxEvents
}

// event is one event of a task as the model keeps it: 16 bytes.
type event struct {
	at                    int64 // unix nanoseconds
	kind, status, outcome uint16
}

// Endpoint is a source or target instance: names and addresses, never a
// password.
type Endpoint struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	Addr string `json:"addr,omitempty"`
}

// Progress is a task's last known progress (data.progress of its events).
type Progress struct {
	dcs.Stats
	ObservedAt time.Time `json:"observed_at,omitzero"`
}

// Change names a task whose view changed.
type Change struct {
	Project string `json:"project"`
	Task    string `json:"task"`
}

// Model is the status page's view of every task, fed by Run. It is safe
// for concurrent use.
type Model struct {
	opts Options

	mu    sync.RWMutex
	tasks map[string]*task // by state.Key
	syms  symbols

	subMu sync.Mutex
	subs  map[chan Change]struct{}
}

// NewModel returns an empty model; Run fills it.
func NewModel(o Options) *Model {
	o.defaults()
	return &Model{opts: o, tasks: map[string]*task{}, syms: newSymbols(), subs: map[chan Change]struct{}{}}
}

// Len is the number of tasks the model holds.
func (m *Model) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.tasks)
}

// applyRecord takes a snapshot record read from the KV bucket.
func (m *Model) applyRecord(key string, rec state.Record) {
	if rec.Task == nil {
		return // the record about the API as a whole
	}
	project, _, _ := strings.Cut(key, ".")
	m.mu.Lock()
	t := m.entry(key, project, rec.Task.ID)
	tk := rec.Task
	t.name = tk.Name
	t.status = m.syms.intern(tk.Status)
	t.since, t.written, t.removed = rec.StatusSince, rec.WrittenAt, rec.Removed
	t.blind = ""
	if rec.Blind != nil {
		t.blind = m.syms.intern(rec.Blind.Class)
	}
	t.source, t.target = endpoint(tk.Source), endpoint(tk.Target)
	// The list row's error_message, which the poller drops once the task
	// leaves the failure it belongs to; scrubbed, as the API may quote a
	// password in it.
	t.lastErr = m.syms.intern(clip(dcs.ScrubSecrets(tk.ErrorMessage)))
	m.mu.Unlock()
	m.publish(Change{Project: t.project, Task: t.id})
}

// forget drops a task whose KV entry was deleted.
func (m *Model) forget(key string) {
	m.mu.Lock()
	t, ok := m.tasks[key]
	delete(m.tasks, key)
	m.mu.Unlock()
	if ok {
		m.publish(Change{Project: t.project, Task: t.id})
	}
}

// applyEvent takes one event read from the stream.
func (m *Model) applyEvent(e wireEvent) {
	d := e.Data
	if d.TaskID == "" || strings.HasPrefix(d.TaskID, "_") {
		return // about the API, the store or Slack, not a task
	}
	status := ""
	if d.CurrentStatus != nil {
		status = d.CurrentStatus.Raw
	}
	m.mu.Lock()
	t := m.entry(state.Key(d.ProjectID, d.TaskID), d.ProjectID, d.TaskID)
	if t.name == "" {
		t.name = d.TaskName
	}
	if t.status == "" {
		t.status = m.syms.intern(status)
	}
	at := e.Time
	if d.ObservedAt != nil {
		at = *d.ObservedAt
	}
	ev := event{at: at.UnixNano(), kind: m.syms.index(d.Kind), status: m.syms.index(string(dcs.Normalize(status))), outcome: m.syms.index(d.Outcome)}
	t.events = appendBounded(t.events, ev, m.opts.MaxEvents)
	if !at.Before(t.lastAt) {
		t.lastKind, t.lastAt = m.syms.intern(d.Kind), at
	}
	switch d.Kind {
	case kindStalled:
		t.stalled = true
	case kindResumed, "status_changed", "removed":
		t.stalled = false
	}
	if d.Progress != nil {
		p := *d.Progress
		if p.ObservedAt.IsZero() {
			p.ObservedAt = at
		}
		t.progress = &p
	}
	m.mu.Unlock()
	m.publish(Change{Project: t.project, Task: t.id})
}

// entry returns the task of key, created if new; m.mu must be held.
func (m *Model) entry(key, project, id string) *task {
	t, ok := m.tasks[key]
	if !ok {
		t = &task{project: m.syms.intern(project), id: id}
		m.tasks[key] = t
	}
	return t
}

// appendBounded appends ev to evs in time order, dropping the oldest
// beyond max.
func appendBounded(evs []event, ev event, max int) []event {
	i := len(evs)
	for i > 0 && evs[i-1].at > ev.at {
		i--
	}
	evs = append(evs, event{})
	copy(evs[i+1:], evs[i:])
	evs[i] = ev
	if len(evs) > max {
		evs = append(evs[:0], evs[len(evs)-max:]...)
	}
	return evs
}

func endpoint(in dcs.Instance) Endpoint {
	addr := in.Addrs
	if addr == "" && in.IP != "" {
		addr = in.IP
		if in.Port != "" {
			addr += ":" + in.Port
		}
	}
	return Endpoint{ID: in.ID, Name: in.Name, Addr: addr}
}

func clip(s string) string {
	if len(s) <= maxReason {
		return s
	}
	return strings.ToValidUTF8(s[:maxReason], "") + "…"
}

// Subscribe returns a channel of changes and a function that ends the
// subscription. A subscriber too slow to take a change misses it: the
// changes only tell a page to fetch its data again.
func (m *Model) Subscribe() (<-chan Change, func()) {
	ch := make(chan Change, 64)
	m.subMu.Lock()
	m.subs[ch] = struct{}{}
	m.subMu.Unlock()
	return ch, func() {
		m.subMu.Lock()
		delete(m.subs, ch)
		m.subMu.Unlock()
	}
}

func (m *Model) publish(c Change) {
	m.subMu.Lock()
	defer m.subMu.Unlock()
	for ch := range m.subs {
		select {
		case ch <- c:
		default:
		}
	}
}

// symbols interns the strings that repeat across tasks and events (kinds,
// statuses, outcomes, projects, failure reasons), and numbers the small
// set the events refer to.
type symbols struct {
	strs map[string]string
	idx  map[string]uint16
	list []string
}

func newSymbols() symbols {
	return symbols{strs: map[string]string{}, idx: map[string]uint16{"": 0}, list: []string{""}}
}

func (s *symbols) intern(v string) string {
	if v == "" {
		return ""
	}
	if w, ok := s.strs[v]; ok {
		return w
	}
	s.strs[v] = v
	return v
}

// index numbers v; past 65535 symbols (statuses no API sends) it is 0.
func (s *symbols) index(v string) uint16 {
	if i, ok := s.idx[v]; ok {
		return i
	}
	if len(s.list) > 0xffff {
		return 0
	}
	i := uint16(len(s.list))
	s.idx[v], s.list = i, append(s.list, s.intern(v))
	return i
}

func (s *symbols) name(i uint16) string { return s.list[i] }
