package poller

import (
	"cmp"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/state"
)

// Why a listed task gets a detail call in a list-driven cycle.
type reason int

const (
	skip       reason = iota // the row is as it was: no call
	fresh                    // no snapshot yet, or the task came back
	changed                  // the list row differs from the last one seen
	blind                    // its last answer was unusable: try again
	refresh                  // its refresh slot came round
	incomplete               // its snapshot is its list row alone
)

// plan decides, from the list rows, which tasks need a detail call: the list
// costs ceil(N/1000) calls for N tasks, a detail call one per task, so a
// cycle that finds nothing new should cost the list pages alone.
//
// It remembers, per task, a fingerprint of the last list row that was
// followed by a successful detail call, and when that call was. It lives in
// memory: after a restart a row is compared with the stored snapshot instead,
// so a restart does not cost a detail call per task. A plan is used by one
// cycle at a time.
type plan struct {
	active, terminal time.Duration // refresh periods by phase; 0 = never
	seen             map[string]rowSeen
}

type rowSeen struct {
	print uint64
	last  stamp // last successful detail call (on a restart: the first sight)
	// since is when this process first listed the task; fetched its last
	// successful detail call by this process, zero if none: what DetailAuto's
	// priority and the staleness go by.
	since, fetched stamp
}

// stamp is a time as Unix nanoseconds, 0 for none: a plan holds three for
// each listed task, 24 bytes where three time.Time take 72 (about 5 MB at
// 100k tasks).
type stamp int64

func stampOf(t time.Time) stamp {
	if t.IsZero() {
		return 0
	}
	return stamp(t.UnixNano())
}

// time is s as a time.Time; the zero Time for none.
func (s stamp) time() time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(s))
}

func newPlan(active, terminal time.Duration) *plan {
	return &plan{active: active, terminal: terminal, seen: map[string]rowSeen{}}
}

// reason says whether the task with list row row and stored entry ent (the
// zero Entry when there is none) needs a detail call at now.
func (p *plan) reason(row dcs.Task, ent state.Entry, now time.Time) reason {
	switch {
	case ent.Task == nil || ent.Removed:
		return fresh
	case ent.Blind != nil:
		return blind
	}
	s, ok := p.seen[row.ID]
	if ent.RowOnly || ent.RowAhead {
		if !ok {
			p.first(row, now)
		}
		if !rowMatches(row, ent.Task) {
			return changed
		}
		return incomplete
	}
	if !ok {
		// First sight since start: the snapshot stands in for the last row.
		if !rowMatches(row, ent.Task) {
			return changed
		}
		p.seen[row.ID] = rowSeen{print: rowPrint(row), last: stampOf(now), since: stampOf(now)}
		return skip
	}
	if s.print != rowPrint(row) {
		return changed
	}
	if p.due(row.ID, ent.Task.NormStatus(), s.last.time(), now) {
		return refresh
	}
	return skip
}

// done records a successful detail call that followed row.
func (p *plan) done(row dcs.Task, now time.Time) {
	s := p.seen[row.ID]
	if s.since == 0 {
		s.since = stampOf(now)
	}
	p.seen[row.ID] = rowSeen{print: rowPrint(row), last: stampOf(now), since: s.since, fetched: stampOf(now)}
}

// first records the first sight of a task whose row became its snapshot:
// no detail call yet.
func (p *plan) first(row dcs.Task, now time.Time) {
	p.seen[row.ID] = rowSeen{print: rowPrint(row), since: stampOf(now)}
}

// candidate is a listed task DetailAuto may spend a refresh on.
type candidate struct {
	id    string
	class int
	last  stamp // last detail call by this process; 0: none yet
}

// candidate is row's task as a candidate; told: its status change was
// told from a list row (moveFromRow) and its detail call is owed, which
// comes before every refresh.
func (p *plan) candidate(row dcs.Task, told bool) candidate {
	class := priority(row.NormStatus())
	if told {
		class = -1
	}
	return candidate{id: row.ID, class: class, last: p.seen[row.ID].fetched}
}

// priority orders the classes of DetailAuto's refreshes: the incremental phase
// first (task_status moves there: EXCHANGING, the switch-over), then other
// active or stopping tasks, pending, and finished tasks last.
func priority(st dcs.Status) int {
	switch {
	case st == dcs.StatusIncrMigrating:
		return 0
	case st.Terminal():
		return 3
	case st.Phase() == dcs.PhasePending:
		return 2
	}
	return 1
}

// pick returns the ids of the n candidates to refresh: by class, then the
// oldest refresh (never refreshed first), then id.
func pick(cands []candidate, n int) []string {
	if n <= 0 {
		return nil
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if a.class != b.class {
			return a.class - b.class
		}
		if a.last != b.last {
			return cmp.Compare(a.last, b.last)
		}
		return strings.Compare(a.id, b.id)
	})
	out := make([]string, 0, min(n, len(cands)))
	for _, c := range cands[:min(n, len(cands))] {
		out = append(out, c.id)
	}
	return out
}

// oldest is the age at now of the least recent detail read of a listed
// task; a task not read by this process counts from its first listing.
func (p *plan) oldest(now time.Time) time.Duration {
	var age time.Duration
	for _, s := range p.seen {
		at := s.fetched
		if at == 0 {
			at = s.since
		}
		age = max(age, now.Sub(at.time()))
	}
	return age
}

// keep forgets every task that is not listed any more.
func (p *plan) keep(listed map[string]listing) {
	for id := range p.seen {
		if _, ok := listed[id]; !ok {
			delete(p.seen, id)
		}
	}
}

// due reports whether a refresh slot of the task came round since last.
// Slots are fixed per task id (an offset within the period), so refreshes
// stay spread over the period even when every task was first seen at once.
func (p *plan) due(id string, st dcs.Status, last, now time.Time) bool {
	period := p.active
	if st.Terminal() {
		period = p.terminal
	}
	if period <= 0 {
		return false
	}
	off := int64(hash64(id) % uint64(period))
	slot := func(t time.Time) int64 { return (t.UnixNano() + off) / int64(period) }
	return slot(now) > slot(last)
}

// dueOrDaily is due with a period of a day where refreshes are off.
func (p *plan) dueOrDaily(id string, st dcs.Status, last, now time.Time) bool {
	q := *p
	if q.active <= 0 {
		q.active = 24 * time.Hour
	}
	if q.terminal <= 0 {
		q.terminal = 24 * time.Hour
	}
	return q.due(id, st, last, now)
}

// rowMatches compares a list row with a snapshot on what both carry and the
// list exists to show: status, failure reason, release, instance states,
// name and description.
func rowMatches(row dcs.Task, snap *dcs.Task) bool {
	return row.Status == snap.Status && row.ErrorMessage == snap.ErrorMessage &&
		row.ReleasedAt == snap.ReleasedAt && row.Name == snap.Name &&
		row.Description == snap.Description &&
		row.Source.Status == snap.Source.Status && row.Target.Status == snap.Target.Status
}

// movedInRow reports whether a list row shows a status change of a known
// task that the row itself reports (moveFromRow): not of a task reported
// removed or blind, whose own detail call decides.
func movedInRow(row *dcs.Task, ent *dcs.Task, removed, blind bool) bool {
	return ent != nil && !removed && !blind && row.NormStatus() != ent.NormStatus()
}

// rowBase is t with the fields a list row carries taken from row: the
// fields the watcher compares a list row on (rowMatches: status, failure
// reason, release, name, description, the instances' statuses). Everything
// else (task_status, the instances' task_status, bandwidth, backup files,
// addresses as the detail call spells them...) is t's.
//
// With t a detail answer and row a row snapshot, it is what the row
// snapshot says of the task, completed by t, so only a change the row
// could show is one; with t a snapshot and row a newer list row, it is the
// snapshot the row's status change makes.
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

// rowPrint is a fingerprint of every field of a list row.
func rowPrint(t dcs.Task) uint64 {
	h := fnv.New64a()
	for _, s := range [...]string{
		t.ID, t.Name, t.Description, t.Status, t.MigrationType, t.MigrationMethod,
		t.ECSTenantPrivateIP, t.ResumeMode, t.Version, t.CreatedAt, t.ReleasedAt, t.ErrorMessage,
		t.Source.ID, t.Source.Name, t.Source.Addrs, t.Source.Status,
		t.Target.ID, t.Target.Name, t.Target.Addrs, t.Target.Status,
	} {
		_, _ = h.Write([]byte(s)) // a hash.Hash never fails to write
		_, _ = h.Write([]byte{0})
	}
	for _, s := range t.SupportedFeatures {
		_, _ = h.Write([]byte(s))
		_, _ = h.Write([]byte{1})
	}
	return h.Sum64()
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}
