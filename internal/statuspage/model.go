package statuspage

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/kvkey"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/state"
)

// maxReason bounds a failure reason as the model keeps it.
const maxReason = 300

// task is what the model keeps of one task: only what the pages show,
// strings interned where they repeat, events in a bounded ring.
type task struct {
	project, id, name string
	status            string // as the API spelled it
	since, written    int64  // unix nanoseconds, 0 when unknown
	removed           bool
	blind             string   // blindness class, "" when seen
	attention         []string // open attention episodes' conditions
	silenced          string   // the silence that held its last event
	source, target    Endpoint
	lastErr           string
	lastKind          string
	lastAt            int64
	progress          *notify.Progress
	events            []event // oldest first, at most Model.maxEvents
}

// event is one event of a task as the model keeps it: 16 bytes.
type event struct {
	at                    int64 // unix nanoseconds
	kind, status, outcome uint16
	silenced              bool // held by a silence, not posted to Slack
}

// Endpoint is a source or target instance: its name and address, never a
// password.
type Endpoint struct {
	Name string `json:"name,omitempty"`
	Addr string `json:"addr,omitempty"`
}

// taskKey finds a task: its project as a KV key token (what the bucket's
// keys say; a project id is made of such characters) and its id.
type taskKey struct{ project, id string }

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
	tasks map[taskKey]*task
	syms  symbols

	subMu sync.Mutex
	subs  map[chan Change]struct{}
}

// NewModel returns an empty model; Run fills it.
func NewModel(o Options) *Model {
	o.defaults()
	return &Model{opts: o, tasks: map[taskKey]*task{}, syms: newSymbols(), subs: map[chan Change]struct{}{}}
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
	t := m.entry(project, rec.Task.ID)
	tk := rec.Task
	t.name = tk.Name
	t.status = m.syms.intern(tk.Status)
	t.since, t.written, t.removed = nanos(rec.StatusSince), nanos(rec.WrittenAt), rec.Removed
	t.blind = ""
	if rec.Blind != nil {
		t.blind = m.syms.intern(rec.Blind.Class)
	}
	t.source, t.target = endpoint(tk.Source), endpoint(tk.Target)
	// The open episodes are written with the events that report them.
	t.attention = t.attention[:0]
	for _, a := range rec.Attention {
		t.attention = append(t.attention, m.syms.intern(a.Condition))
	}
	// The list row's error_message, which the poller drops once the task
	// leaves the failure it belongs to; scrubbed, as the API may quote a
	// password in it.
	t.lastErr = m.syms.intern(clip(dcs.ScrubSecrets(tk.ErrorMessage)))
	m.mu.Unlock()
	m.publish(Change{Project: t.project, Task: t.id})
}

// forget drops the task whose KV entry (key) was deleted. The key holds
// the task id as a token only, so the task is looked for; a delete is rare.
func (m *Model) forget(key string) {
	project, id, _ := strings.Cut(key, ".")
	m.mu.Lock()
	var gone []taskKey
	for k := range m.tasks {
		if k.project == project && kvkey.Token(k.id) == id {
			gone = append(gone, k)
		}
	}
	for _, k := range gone {
		delete(m.tasks, k)
	}
	m.mu.Unlock()
	for _, k := range gone {
		m.publish(Change{Project: k.project, Task: k.id})
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
	t := m.entry(kvkey.Token(d.ProjectID), d.TaskID)
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
	ev := event{at: nanos(at), kind: m.syms.index(d.Kind), status: m.syms.index(string(dcs.Normalize(status))),
		outcome: m.syms.index(d.Outcome), silenced: d.Silenced != ""}
	t.events = appendBounded(t.events, ev, m.opts.MaxEvents)
	if ev.at >= t.lastAt {
		t.lastKind, t.lastAt = m.syms.intern(d.Kind), ev.at
		t.silenced = m.syms.intern(d.Silenced)
	}
	if a := d.Attention; a != nil {
		t.attention = slices.DeleteFunc(t.attention, func(c string) bool { return c == a.Condition })
		if d.Kind == string(diff.Stalled) {
			t.attention = append(t.attention, m.syms.intern(a.Condition))
		}
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

// entry returns the task of project (a key token) and id, created if
// new; m.mu must be held.
func (m *Model) entry(project, id string) *task {
	k := taskKey{m.syms.intern(project), id}
	t, ok := m.tasks[k]
	if !ok {
		t = &task{project: k.project, id: id}
		m.tasks[k] = t
	}
	return t
}

// appendBounded inserts ev into evs in time order, dropping the oldest
// beyond limit; the slice never grows past limit, so a full ring costs
// limit events and no more.
func appendBounded(evs []event, ev event, limit int) []event {
	if len(evs) == limit {
		if ev.at < evs[0].at {
			return evs // older than all it would keep
		}
		copy(evs, evs[1:])
		evs = evs[:limit-1]
	}
	if len(evs) == cap(evs) {
		grown := make([]event, len(evs), min(limit, max(4, 2*cap(evs))))
		copy(grown, evs)
		evs = grown
	}
	i := len(evs)
	for i > 0 && evs[i-1].at > ev.at {
		i--
	}
	evs = append(evs, event{})
	copy(evs[i+1:], evs[i:])
	evs[i] = ev
	return evs
}

// nanos is t in unix nanoseconds, 0 for the zero time; when is its inverse.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func when(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func endpoint(in dcs.Instance) Endpoint {
	addr := in.Addrs
	if addr == "" && in.IP != "" {
		addr = in.IP
		if in.Port != "" {
			addr += ":" + in.Port
		}
	}
	return Endpoint{Name: in.Name, Addr: addr}
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
