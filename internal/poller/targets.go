package poller

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/state"
)

// targets is what a cycle calls the API for.
type targets struct {
	fetch []string // detail calls to make: new and changed tasks first, then suspects, then refreshes
	// stats are the active tasks whose stats call the cycle makes, after
	// the detail calls (planStats); statsBy, when a budget is known, when
	// they stop being worth starting (as deadline for the refreshes).
	stats   []string
	statsBy time.Time
	// rows are the list rows of listed tasks without a snapshot that get
	// no detail call this cycle (DetailAuto, beyond the budget): each becomes its
	// task's first snapshot before any detail call. A new task with a
	// detail call is discovered from its answer.
	rows []*dcs.Task
	// moved are the list rows that show a known task in another status:
	// the change is told from the row before any detail call.
	moved []*dcs.Task
	// listed are the listed tasks by id; nil without discovery or when
	// the list failed.
	listed    map[string]listing
	watched   int // tasks watched
	refreshes int // calls in fetch made only because a refresh was due
	budget    int // DetailAuto: the calls the cycle may make; 0: no budget
	// refreshFrom is the index in fetch where the refreshes start, and
	// deadline (with DetailAuto) when they stop being worth starting: a cycle
	// that runs into the next tick has that tick skipped.
	refreshFrom int
	deadline    time.Time
}

// listing is what a cycle keeps of a listed task: its row's status and
// name, and the row itself only while the task's detail call may want it
// (the task is in fetch). tg.rows and tg.moved hold their own rows until
// they are told: a row nothing holds any more goes, so that a cold start
// does not keep every row beside the snapshots they became.
type listing struct {
	status string
	name   string
	row    *dcs.Task
}

// release keeps the rows of the tasks in fetch, and of the others only
// their status and name (the row's, which may share the snapshot's
// strings by now: ShareStrings).
func (tg *targets) release() {
	fetched := make(map[string]bool, len(tg.fetch))
	for _, id := range tg.fetch {
		fetched[id] = true
	}
	for id, l := range tg.listed {
		l.status, l.name = l.row.Status, l.row.Name
		if !fetched[id] {
			l.row = nil
		}
		tg.listed[id] = l
	}
}

// targets lists the tasks (with discovery) and decides which need a detail
// call: every watched task with DetailEveryCycle, else only those the plan
// picks (plus configured tasks the list does not show), within
// DetailAuto's budget.
func (p *Poller) targets(ctx context.Context, now time.Time) (targets, error) {
	var tg targets
	set := map[string]bool{}
	for _, id := range p.o.TaskIDs {
		set[id] = true
	}
	if !p.o.Discover {
		tg.fetch = sortedKeys(set)
		tg.watched = len(tg.fetch)
		tg.refreshFrom = len(tg.fetch)
		p.planStats(&tg, tg.fetch, p.statsLeft(&tg, now), now)
		return tg, nil
	}
	rows, err := p.f.List(ctx, p.o.NameFilter)
	if err != nil {
		// Keep watching what we know: a list failure must not blind us to
		// tasks whose detail call still works. List-driven, not when the
		// API as a whole fails: that would fail every detail call alike, at
		// one call per task.
		if p.o.Detail == DetailEveryCycle || !apiWide(err) {
			for _, e := range p.st.Tasks(p.o.ProjectID) {
				if !e.Removed {
					set[e.Task.ID] = true
				}
			}
		}
		tg.fetch = sortedKeys(set)
		tg.watched = len(tg.fetch)
		tg.refreshFrom = len(tg.fetch)
		if !apiWide(err) {
			p.planStats(&tg, tg.fetch, p.statsLeft(&tg, now), now)
		}
		return tg, err
	}
	if p.o.Listed != nil {
		p.o.Listed(len(rows))
	}
	tg.listed = make(map[string]listing, len(rows))
	for _, row := range rows {
		dcs.DropStaleReason(row) // as the snapshots hold it
		if row.ID != "" {
			tg.listed[row.ID] = listing{status: row.Status, name: row.Name, row: row}
		}
	}
	for id := range tg.listed {
		delete(p.absent, id)
	}
	suspects, unlisted := p.suspects(tg.listed, set, now)
	if p.o.Detail == DetailEveryCycle {
		for id, l := range tg.listed {
			set[id] = true
			if ent, _ := p.st.Get(p.o.ProjectID, id); movedInRow(l.row, ent.Task, ent.Removed, ent.Blind != nil) {
				tg.moved = append(tg.moved, l.row)
			}
		}
		slices.SortFunc(tg.moved, func(a, b *dcs.Task) int { return strings.Compare(a.ID, b.ID) })
		tg.fetch = append(sortedKeys(set), suspects...)
		tg.watched = len(set) + unlisted
		tg.refreshFrom = len(tg.fetch)
		tg.release()
		p.planStats(&tg, sortedKeys(set), p.statsLeft(&tg, now), now)
		return tg, nil
	}
	p.plan.keep(tg.listed)
	auto := p.o.Detail == DetailAuto
	var later []string    // DetailOnChange: refreshes that came due
	var cands []candidate // DetailAuto: every listed task not called anyway
	var news []*dcs.Task  // DetailAuto: listed tasks without a snapshot
	var snap dcs.Task     // need's, each snapshot in turn
	for _, id := range sortedKeys(tg.listed) {
		delete(set, id)
		row := tg.listed[id].row
		n, told := p.need(&tg, row, &snap, now)
		switch {
		case n == needFirst && auto:
			news = append(news, row)
		case n == needCall || !auto && (n == needFirst || n == needOwed):
			tg.fetch = append(tg.fetch, id)
		case auto:
			cands = append(cands, p.plan.candidate(*row, told))
		case n == needRefresh:
			later = append(later, id)
		}
	}
	tg.fetch = append(tg.fetch, sortedKeys(set)...) // configured, not listed
	tg.fetch = append(tg.fetch, suspects...)
	tg.refreshFrom = len(tg.fetch)
	statsFor := append(sortedKeys(tg.listed), sortedKeys(set)...)
	if auto {
		later = p.spend(&tg, news, cands, statsFor, now)
	}
	tg.fetch = append(tg.fetch, later...)
	tg.release()
	if !auto {
		p.planStats(&tg, statsFor, p.statsLeft(&tg, now), now)
	}
	tg.watched = len(tg.listed) + len(set) + unlisted
	tg.refreshes = len(later)
	return tg, nil
}

// spend is DetailAuto's budget: what the list pages and tg.fetch leave of
// it goes to the new tasks first, by priority (those beyond it are known
// from their rows: tg.rows), then to the owed detail calls of status
// changes told from rows; what is left is shared by the stats calls of the
// active tasks among statsFor (tg.stats) and the other cands (refreshes).
// It returns the ids of the cands it picked.
func (p *Poller) spend(tg *targets, news []*dcs.Task, cands []candidate, statsFor []string, now time.Time) []string {
	tg.budget, tg.deadline = p.budget(now)
	left := len(cands) + len(news)
	if tg.budget > 0 {
		left = max(0, tg.budget-listPages(len(tg.listed))-len(tg.fetch))
	}
	newc := make([]candidate, len(news))
	for i, row := range news {
		newc[i] = p.plan.candidate(*row, false)
	}
	first := pick(newc, left)
	tg.fetch = append(tg.fetch, first...)
	called := make(map[string]bool, len(first))
	for _, id := range first {
		called[id] = true
	}
	for _, row := range news {
		if !called[row.ID] {
			tg.rows = append(tg.rows, row)
		}
	}
	tg.refreshFrom = len(tg.fetch)
	left -= len(first)
	var owed, rest []candidate
	for _, c := range cands {
		if c.class < 0 {
			owed = append(owed, c)
		} else {
			rest = append(rest, c)
		}
	}
	out := pick(owed, left)
	left -= len(out)
	if tg.budget > 0 {
		// The stats calls and the refreshes share what is left: the stats
		// calls at least half of it, and all that the refreshes do not
		// need, so that neither class starves the other.
		p.planStats(tg, statsFor, max((left+1)/2, left-len(rest)), now)
		left -= len(tg.stats)
	} else {
		p.planStats(tg, statsFor, -1, now)
	}
	return append(out, pick(rest, left)...)
}

// What a listed task with its stored entry needs of a list-driven cycle.
type need int

const (
	needNothing need = iota // the row shows the snapshot's state
	needCall                // a detail call this cycle: back after removal, changed, blind
	needFirst               // no snapshot yet: its detail call discovers it
	needOwed                // the detail call that completes its snapshot
	needRefresh             // its refresh came due
)

// need says what the task of a list row needs (plan.reason); a status
// change the row shows is told from the row (tg.moved) and the detail call
// that completes the snapshot is owed: told says so, for DetailAuto's
// priority. DetailOnChange makes the calls owed this cycle; DetailAuto
// before any refresh, within the budget (beyond the budget, a new task's
// row is its first snapshot, at once).
//
// The snapshot is unpacked into snap, which nothing keeps; the row, held
// all cycle, takes the snapshot's strings where they are equal instead of
// a second copy (at 100k tasks, 30 MB).
func (p *Poller) need(tg *targets, row, snap *dcs.Task, now time.Time) (n need, told bool) {
	ent, _ := p.st.GetInto(p.o.ProjectID, row.ID, snap)
	if ent.Task != nil {
		dcs.ShareStrings(row, ent.Task)
	}
	if ent.Task == nil && !ent.Removed {
		p.plan.first(*row, now)
		return needFirst, false
	}
	why := p.plan.reason(*row, ent, now)
	if why == changed && movedInRow(row, ent.Task, ent.Removed, ent.Blind != nil) {
		tg.moved = append(tg.moved, row)
		return needOwed, true
	}
	switch why {
	case skip:
		p.observe(row.ID)
		return needNothing, false
	case refresh:
		p.observe(row.ID)
		return needRefresh, false
	case incomplete:
		p.observe(row.ID)
		return needOwed, ent.RowAhead
	}
	return needCall, false
}

// suspects are the known tasks (not removed, not configured) that the list
// did not show and whose detail call is due: absence is not evidence, so
// only that call can say a task is gone. A suspect never checked since it
// went missing is due at once; one that answered is checked again when its
// refresh slot comes round (daily when refreshes are off). At most
// AbsentChecks a cycle, taking turns. unlisted counts every known task the
// list did not show.
func (p *Poller) suspects(listed map[string]listing, configured map[string]bool, now time.Time) (due []string, unlisted int) {
	var all []string
	// Each, not Tasks: the snapshots are unpacked in turn into one Task,
	// where Tasks would make every one anew (60 MB at 100k tasks).
	p.st.Each(p.o.ProjectID, func(e state.Entry) {
		id := e.Task.ID
		if _, ok := listed[id]; ok || e.Removed || configured[id] {
			return
		}
		unlisted++
		last, checked := p.absent[id]
		if checked && !p.plan.dueOrDaily(id, e.Task.NormStatus(), last, now) {
			return
		}
		all = append(all, id)
	})
	// In order of id: start after the last suspect checked.
	slices.Sort(all)
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
