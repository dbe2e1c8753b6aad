package sim

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// FleetProjectID is the project of a generated fleet unless FleetOptions
// names another.
const FleetProjectID = "0b5e7c3f9d2a4e6b8c1d3f5a7b9e2c4d"

// FleetOptions describe a generated fleet and its change plan. The same
// options (seed included) always give the same scenario, so a process that
// starts a simulator on a fleet can regenerate the plan and know the exact
// time of every change.
type FleetOptions struct {
	Tasks     int    // size of the fleet
	Seed      uint64 // drives ids, names, change times and targets
	ProjectID string // default FleetProjectID

	// ChangeRate is the number of status changes per second, made at
	// random times in [ChangeFrom, ChangeTo) on random tasks.
	ChangeRate           float64
	ChangeFrom, ChangeTo time.Duration

	// BurstTasks distinct tasks all change status at BurstAt: each to
	// BurstStatus, or with BurstStatus "" to its own next status (a mix).
	BurstTasks  int
	BurstAt     time.Duration
	BurstStatus string
}

// Validate checks the options; a fleet generated from invalid ones would
// not have the plan asked for.
func (o FleetOptions) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if o.Tasks < 0 {
		add("tasks: %d is negative", o.Tasks)
	}
	if o.ProjectID != "" && !validID(o.ProjectID) {
		add("project_id: %q may hold only letters, digits and '-'", o.ProjectID)
	}
	switch {
	case o.ChangeRate < 0 || math.IsNaN(o.ChangeRate) || math.IsInf(o.ChangeRate, 0):
		add("change rate: %v is not a rate of changes per second", o.ChangeRate)
	case o.ChangeRate > 0 && o.Tasks == 0:
		add("change rate: a fleet of 0 tasks cannot change")
	case o.ChangeRate > 0 && (o.ChangeFrom < 0 || o.ChangeTo <= o.ChangeFrom):
		add("change window: [%s, %s) is empty or negative", o.ChangeFrom, o.ChangeTo)
	}
	switch {
	case o.BurstTasks < 0:
		add("burst: %d is negative", o.BurstTasks)
	case o.BurstTasks > o.Tasks:
		add("burst: %d tasks, but the fleet has %d", o.BurstTasks, o.Tasks)
	case o.BurstTasks > 0 && o.BurstAt <= 0:
		add("burst at: %s must be after the start (the first state of a task is at 0)", o.BurstAt)
	}
	if strings.TrimSpace(o.BurstStatus) != o.BurstStatus {
		add("burst status: %q has surrounding spaces", o.BurstStatus)
	}
	return errors.Join(errs...)
}

// StatusChange is one planned change of a task's status: at offset At (from
// the scenario start) the task's status becomes Status.
type StatusChange struct {
	TaskID   string
	TaskName string
	Status   string
	At       time.Duration
}

// Fleet generates a scenario of o.Tasks active migration tasks (half full,
// half incremental migration) with realistic names, instances with addresses
// and Redis passwords, and the change plan of o. Every change sets a status
// different from the task's previous one, so each is visible in the list row
// and in the detail: an active task goes to the other active status (or, one
// time in ten, to FAILED with an error_message); a failed task is restarted
// (RUNNING, error cleared), a restarted one resumes (FULLMIGRATING). The
// tasks of a burst go to BurstStatus instead, when it is set. StatusChanges
// lists the plan. Active tasks report progress that advances with the
// scenario's time, incremental ones a small lag, failed ones ERROR log
// lines (fleetProgress). Fleet panics on options Validate rejects.
func Fleet(o FleetOptions) *Scenario {
	if err := o.Validate(); err != nil {
		panic(fmt.Sprintf("sim.Fleet: %v", err))
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	sc := &Scenario{ProjectID: cmp.Or(o.ProjectID, FleetProjectID), Tasks: make([]TaskSpec, o.Tasks)}
	ids := make(map[string]bool, o.Tasks)
	for i := range sc.Tasks {
		sc.Tasks[i] = fleetTask(rng, i, ids)
	}
	for _, c := range planChanges(rng, o) {
		addChange(rng, &sc.Tasks[c.task], c.at, c.status)
	}
	fleetProgress(o.Seed, sc)
	return sc
}

// plannedChange is a change before its status is known: which task, when,
// and the status it must set ("" for the task's own next one).
type plannedChange struct {
	task   int
	at     time.Duration
	status string
}

// planChanges draws the times and tasks of every change: uniform times in
// the window (a Poisson process given its count) on tasks taken in a
// random order, so that no task changes twice before every task changed
// once; then the burst. The result is sorted by time.
func planChanges(rng *rand.Rand, o FleetOptions) []plannedChange {
	var out []plannedChange
	if o.ChangeRate > 0 {
		window := o.ChangeTo - o.ChangeFrom
		n := int(math.Round(o.ChangeRate * window.Seconds()))
		times := make([]time.Duration, n)
		for i := range times {
			times[i] = o.ChangeFrom + time.Duration(rng.Int64N(int64(window)))
		}
		slices.Sort(times)
		order := rng.Perm(o.Tasks)
		for i, at := range times {
			if i > 0 && i%o.Tasks == 0 {
				order = rng.Perm(o.Tasks)
			}
			out = append(out, plannedChange{task: order[i%o.Tasks], at: at})
		}
	}
	if o.BurstTasks > 0 {
		for _, t := range rng.Perm(o.Tasks)[:o.BurstTasks] {
			out = append(out, plannedChange{task: t, at: o.BurstAt, status: o.BurstStatus})
		}
	}
	slices.SortStableFunc(out, func(a, b plannedChange) int { return cmpDuration(a.at, b.at) })
	return out
}

// addChange appends a status step at at to t, nudged by a millisecond when
// the task already changes at that instant (steps must increase). The step
// sets status, unless that is "" or the task's status already (no change
// to see): then the task's own next status.
func addChange(rng *rand.Rand, t *TaskSpec, at time.Duration, status string) {
	last := t.Steps[len(t.Steps)-1]
	if at <= last.At {
		at = last.At + time.Millisecond
	}
	cur := currentStatus(t)
	if status == "" || status == cur {
		t.Steps = append(t.Steps, nextStep(rng, cur, at))
		return
	}
	st := Step{At: at, Status: new(status)}
	if status == "FAILED" {
		st.ErrorMessage = new(failures[rng.IntN(len(failures))])
	}
	t.Steps = append(t.Steps, st)
}

// currentStatus is the status after the last step that set one.
func currentStatus(t *TaskSpec) string {
	for i := len(t.Steps) - 1; i >= 0; i-- {
		if s := t.Steps[i].Status; s != nil {
			return *s
		}
	}
	return ""
}

// nextStep is a plausible move from status cur: the new status always
// differs from cur.
func nextStep(rng *rand.Rand, cur string, at time.Duration) Step {
	st := Step{At: at}
	switch cur {
	case "FAILED":
		st.Status, st.ErrorMessage = new("RUNNING"), new("")
	case "RUNNING":
		st.Status = new("FULLMIGRATING")
	default:
		if rng.IntN(10) == 0 {
			st.Status = new("FAILED")
			st.ErrorMessage = new(failures[rng.IntN(len(failures))])
			break
		}
		if cur == "FULLMIGRATING" {
			st.Status = new("INCRMIGEATING")
		} else {
			st.Status = new("FULLMIGRATING")
		}
	}
	return st
}

var (
	services = []string{"orders", "sessions", "carts", "users", "inventory", "payments", "catalog", "search", "feeds", "leaderboard"}
	roles    = []string{"cache", "store", "queue", "index"}
)

// fleetTask is the i-th task of a fleet: a fresh random id (ids holds those
// taken), a name unique by its index, and instances addressed by index.
func fleetTask(rng *rand.Rand, i int, ids map[string]bool) TaskSpec {
	id := randomID(rng)
	for ids[id] {
		id = randomID(rng)
	}
	ids[id] = true
	name := fmt.Sprintf("%s-%s-move-%06d", services[i%len(services)], roles[(i/len(services))%len(roles)], i)
	status, method := "FULLMIGRATING", "full_amount_migration"
	if i%2 == 1 {
		status, method = "INCRMIGEATING", "incremental_migration"
	}
	return TaskSpec{
		ID:              id,
		Name:            name,
		Description:     "move " + name[:len(name)-12] + " to the new cluster",
		MigrationType:   "online_migration",
		MigrationMethod: method,
		NetworkType:     "vpc",
		ResumeMode:      "auto",
		Version:         "1.0",
		Source:          fleetInstance(rng, name+"-old", 10, i),
		Target:          fleetInstance(rng, name+"-new", 11, i),
		Steps: []Step{{
			Status: new(status), TaskStatus: new("RUNNING"),
			SourceTaskStatus: new("RUNNING"), TargetTaskStatus: new("RUNNING"),
		}},
	}
}

func fleetInstance(rng *rand.Rand, name string, net, i int) *InstanceSpec {
	ip := fmt.Sprintf("10.%d.%d.%d", net, i/250%250, i%250+2)
	return &InstanceSpec{
		ID:       uuidLike(rng),
		Name:     name,
		Addrs:    ip + ":6379",
		IP:       ip,
		Port:     "6379",
		DB:       "0",
		Password: fmt.Sprintf("Fleet-%016x", rng.Uint64()),
		Status:   "RUNNING",
	}
}

// randomID is 32 hex digits, the shape of a real task id.
func randomID(rng *rand.Rand) string {
	return fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
}

func uuidLike(rng *rand.Rand) string {
	a, b := rng.Uint64(), rng.Uint64()
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, a>>16&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// StatusChanges lists every step of sc that sets a task's status to a new
// value after the task appeared, sorted by time (then task id): the changes
// a watcher should report.
func (sc *Scenario) StatusChanges() []StatusChange {
	var out []StatusChange
	for i := range sc.Tasks {
		t := &sc.Tasks[i]
		steps := slices.Clone(t.Steps)
		slices.SortStableFunc(steps, func(a, b Step) int { return cmpDuration(a.At, b.At) })
		cur := ""
		for _, st := range steps {
			if st.Status == nil || *st.Status == cur {
				continue
			}
			// A step before the task appears or after it is removed
			// cannot be seen: it only sets the status the next one changes.
			seen := st.At > t.AppearsAt && (t.RemovedAt == nil || st.At < *t.RemovedAt)
			if cur != "" && seen {
				out = append(out, StatusChange{TaskID: t.ID, TaskName: t.Name, Status: *st.Status, At: st.At})
			}
			cur = *st.Status
		}
	}
	slices.SortFunc(out, func(a, b StatusChange) int {
		return cmp.Or(cmpDuration(a.At, b.At), cmp.Compare(a.TaskID, b.TaskID))
	})
	return out
}
