package statuspage

import (
	"cmp"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/kvkey"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// TaskView is a task as the pages and the JSON API show it.
type TaskView struct {
	Project     string        `json:"project"`
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Status      string        `json:"status"`
	Phase       dcs.Phase     `json:"phase"`
	Outcome     dcs.Outcome   `json:"outcome"`
	StatusSince time.Time     `json:"status_since,omitzero"`
	InStatus    time.Duration `json:"in_status_ns,omitempty"`
	// Progress is the last progress an event of the task carried
	// (data.progress: active statuses, once the stats call answered).
	Progress *notify.Progress `json:"progress,omitempty"`
	// Attention are the conditions of the task's open attention episodes
	// (progress_stalled, lag_high...); Stalled says there is one.
	Attention []string `json:"attention,omitempty"`
	Stalled   bool     `json:"stalled,omitempty"`
	// Silenced is the silence that held the task's last event.
	Silenced     string    `json:"silenced,omitempty"`
	Blind        string    `json:"blind,omitempty"`
	Removed      bool      `json:"removed,omitempty"`
	LastChange   string    `json:"last_change,omitempty"`
	LastChangeAt time.Time `json:"last_change_at,omitzero"`
	Source       Endpoint  `json:"source"`
	Target       Endpoint  `json:"target"`
	LastError    string    `json:"last_error,omitempty"`
	// Events and Timeline are filled in a task's own view only.
	Events   []EventView `json:"events,omitempty"`
	Timeline []Segment   `json:"timeline,omitempty"`
}

// EventView is one recent event of a task.
type EventView struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Status  string    `json:"status,omitempty"`
	Outcome string    `json:"outcome,omitempty"`
	// Silenced: a silence held it from Slack (it is on the stream).
	Silenced bool `json:"silenced,omitempty"`
}

// Filter selects tasks: every set field must match.
type Filter struct {
	Project string // exact project id
	Status  string // normalised status, any case
	Outcome string
	Query   string // a substring of the name or the id, any case
}

// ParseFilter reads a filter from the query parameters project, status,
// outcome and q.
func ParseFilter(q url.Values) Filter {
	return Filter{
		Project: strings.TrimSpace(q.Get("project")),
		Status:  string(dcs.Normalize(q.Get("status"))),
		Outcome: strings.TrimSpace(q.Get("outcome")),
		Query:   strings.ToLower(strings.TrimSpace(q.Get("q"))),
	}
}

func (f Filter) match(v *TaskView) bool {
	return (f.Project == "" || v.Project == f.Project) &&
		(f.Status == "" || string(dcs.Normalize(v.Status)) == f.Status) &&
		(f.Outcome == "" || string(v.Outcome) == f.Outcome) &&
		(f.Query == "" || strings.Contains(strings.ToLower(v.Name), f.Query) || strings.Contains(strings.ToLower(v.ID), f.Query))
}

// Tasks returns the views of the tasks f selects, failures first, then
// stalls, tasks the watcher cannot see, tasks in progress and the rest;
// by project, name and id within each.
func (m *Model) Tasks(f Filter) []TaskView {
	now := m.opts.Now()
	m.mu.RLock()
	out := make([]TaskView, 0, len(m.tasks))
	for _, t := range m.tasks {
		v := t.view(now)
		if f.match(&v) {
			out = append(out, v)
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b TaskView) int {
		return cmp.Or(cmp.Compare(rank(&a), rank(&b)), strings.Compare(a.Project, b.Project),
			strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	return out
}

// Task returns the view of one task with its events and timeline.
func (m *Model) Task(project, id string) (TaskView, bool) {
	now := m.opts.Now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.tasks[taskKey{kvkey.Token(project), id}]
	if !ok {
		return TaskView{}, false
	}
	v := t.view(now)
	v.Events = make([]EventView, len(t.events))
	for i, e := range t.events {
		v.Events[len(t.events)-1-i] = EventView{Time: when(e.at), Kind: m.syms.name(e.kind),
			Status: m.syms.name(e.status), Outcome: m.syms.name(e.outcome), Silenced: e.silenced}
	}
	v.Timeline = timeline(t, &m.syms, now)
	return v, true
}

// Projects lists the projects the model holds tasks of, sorted.
func (m *Model) Projects() []string {
	m.mu.RLock()
	seen := map[string]bool{}
	for _, t := range m.tasks {
		seen[t.project] = true
	}
	m.mu.RUnlock()
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (t *task) view(now time.Time) TaskView {
	n := dcs.Normalize(t.status)
	v := TaskView{
		Project: t.project, ID: t.id, Name: t.name, Status: t.status,
		Phase: n.Phase(), Outcome: n.Outcome(), StatusSince: when(t.since),
		Progress: t.progress, Attention: slices.Clone(t.attention), Stalled: len(t.attention) > 0,
		Silenced: t.silenced, Blind: t.blind, Removed: t.removed,
		LastChange: t.lastKind, LastChangeAt: when(t.lastAt),
		Source: t.source, Target: t.target, LastError: t.lastErr,
	}
	if !v.StatusSince.IsZero() && now.After(v.StatusSince) {
		v.InStatus = now.Sub(v.StatusSince)
	}
	if v.LastChangeAt.IsZero() {
		v.LastChangeAt = when(t.written)
	}
	return v
}

// rank orders the list: what needs someone first.
func rank(v *TaskView) int {
	switch {
	case v.Outcome == dcs.OutcomeFailed:
		return 0
	case v.Stalled:
		return 1
	case v.Blind != "":
		return 2
	case v.Outcome == dcs.OutcomeInProgress:
		return 3
	}
	return 4
}
