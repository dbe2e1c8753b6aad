package sim_test

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
)

func fleetOptions() sim.FleetOptions {
	return sim.FleetOptions{
		Tasks: 500, Seed: 42,
		ChangeRate: 5, ChangeFrom: 10 * time.Second, ChangeTo: 70 * time.Second,
		BurstTasks: 50, BurstAt: 80 * time.Second,
	}
}

func TestFleetIsDeterministic(t *testing.T) {
	a, b := sim.Fleet(fleetOptions()), sim.Fleet(fleetOptions())
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two fleets generated with the same options differ")
	}
	o := fleetOptions()
	o.Seed++
	if c := sim.Fleet(o); reflect.DeepEqual(a.StatusChanges(), c.StatusChanges()) {
		t.Fatal("another seed gives the same change plan")
	}
}

func TestFleetIsAValidScenario(t *testing.T) {
	sc := sim.Fleet(fleetOptions())
	if err := sc.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if len(sc.Tasks) != 500 {
		t.Fatalf("%d tasks, want 500", len(sc.Tasks))
	}
	names := map[string]bool{}
	for _, task := range sc.Tasks {
		if len(task.ID) != 32 {
			t.Errorf("task id %q: want 32 hex digits", task.ID)
		}
		if names[task.Name] {
			t.Errorf("name %q used twice", task.Name)
		}
		names[task.Name] = true
		if task.Source == nil || task.Source.Password == "" || task.Target == nil || task.Target.Addrs == "" {
			t.Fatalf("task %s: want source and target with an address and a password", task.ID)
		}
		if s := *task.Steps[0].Status; s != "FULLMIGRATING" && s != "INCRMIGEATING" {
			t.Errorf("task %s starts %s, want an active status", task.ID, s)
		}
	}
	// Every password reaches the server, so leak scans cover the fleet.
	if got := len(sim.New(sc, sim.Options{}).Passwords()); got != 1000 {
		t.Errorf("%d passwords, want 1000", got)
	}
}

func TestFleetChangePlan(t *testing.T) {
	o := fleetOptions()
	changes := sim.Fleet(o).StatusChanges()
	var window, burst int
	burstTasks := map[string]bool{}
	for _, c := range changes {
		switch {
		case c.At >= o.ChangeFrom && c.At < o.ChangeTo:
			window++
		case c.At == o.BurstAt:
			burst++
			burstTasks[c.TaskID] = true
		default:
			t.Errorf("change at %s is outside the window and the burst", c.At)
		}
		if c.Status == "" || c.TaskName == "" {
			t.Errorf("change %+v lacks a status or a name", c)
		}
	}
	if want := int(math.Round(o.ChangeRate * (o.ChangeTo - o.ChangeFrom).Seconds())); window != want {
		t.Errorf("%d changes in the window, want %d (rate %v/s)", window, want, o.ChangeRate)
	}
	if burst != 50 || len(burstTasks) != 50 {
		t.Errorf("burst: %d changes on %d tasks, want 50 on 50", burst, len(burstTasks))
	}
}

// Each change is observable: its status differs from the one before it,
// and a failure says why in error_message.
func TestFleetChangesAreObservable(t *testing.T) {
	o := fleetOptions()
	o.Tasks, o.ChangeRate, o.BurstTasks = 20, 10, 20 // 600 changes on 20 tasks: each changes often
	sc := sim.Fleet(o)
	for _, task := range sc.Tasks {
		prev := ""
		for j, st := range task.Steps {
			if j > 0 && !(st.At > task.Steps[j-1].At) {
				t.Fatalf("task %s: step %d at %s is not after the step before", task.ID, j, st.At)
			}
			if st.Status == nil || *st.Status == prev {
				t.Fatalf("task %s: step %d does not change the status (%s)", task.ID, j, prev)
			}
			if *st.Status == "FAILED" && (st.ErrorMessage == nil || *st.ErrorMessage == "") {
				t.Errorf("task %s: FAILED without an error_message", task.ID)
			}
			prev = *st.Status
		}
	}
	if got := len(sc.StatusChanges()); got != 600+o.BurstTasks {
		t.Errorf("%d planned changes, want %d", got, 600+o.BurstTasks)
	}
}

func TestFleetBurstStatus(t *testing.T) {
	o := fleetOptions()
	o.ChangeRate, o.BurstStatus = 0, "FAILED"
	changes := sim.Fleet(o).StatusChanges()
	if len(changes) != o.BurstTasks {
		t.Fatalf("%d changes, want the %d of the burst", len(changes), o.BurstTasks)
	}
	for _, c := range changes {
		if c.Status != "FAILED" || c.At != o.BurstAt {
			t.Fatalf("burst change %+v, want FAILED at %s", c, o.BurstAt)
		}
	}
}

func TestFleetOptionsValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*sim.FleetOptions)
		want string
	}{
		{"negative tasks", func(o *sim.FleetOptions) { o.Tasks = -1 }, "tasks"},
		{"empty window", func(o *sim.FleetOptions) { o.ChangeTo = o.ChangeFrom }, "change window"},
		{"NaN rate", func(o *sim.FleetOptions) { o.ChangeRate = math.NaN() }, "change rate"},
		{"burst too big", func(o *sim.FleetOptions) { o.BurstTasks = 501 }, "burst"},
		{"burst at 0", func(o *sim.FleetOptions) { o.BurstAt = 0 }, "burst at"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := fleetOptions()
			tt.edit(&o)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error about %s", err, tt.want)
			}
		})
	}
	if err := (sim.FleetOptions{}).Validate(); err != nil {
		t.Errorf("an empty fleet is valid, got %v", err)
	}
}

// The plan StatusChanges reports is what the server serves: the list row
// shows each change's status from its offset on.
func TestFleetServesThePlan(t *testing.T) {
	o := fleetOptions()
	o.ProjectID = project
	sc := sim.Fleet(o)
	f := start(t, sc, sim.Options{})
	c := sc.StatusChanges()[0]
	f.clock.at(c.At - time.Millisecond)
	before := field(f.get(t, detailPath(c.TaskID)).obj(t), "status")
	f.clock.at(c.At)
	after := field(f.get(t, detailPath(c.TaskID)).obj(t), "status")
	if before == c.Status || after != c.Status {
		t.Fatalf("status %v just before and %v at the change, want a change to %s", before, after, c.Status)
	}
}

// A benchmark in another process reads the counters at CallsPath, which
// needs no signature and counts as no call.
func TestCallsEndpoint(t *testing.T) {
	f := start(t, generated(3), sim.Options{AK: "AK", SK: "SK"})
	f.get(t, detailPath("task-001")) // unsigned: refused, but counted
	f.get(t, listPath(""))
	r := f.get(t, sim.CallsPath)
	if r.status != 200 {
		t.Fatalf("GET %s: %d %s", sim.CallsPath, r.status, r.body)
	}
	m := r.obj(t)
	if m["detail"] != float64(1) || m["list"] != float64(1) || m["auth_failures"] != float64(2) {
		t.Fatalf("calls = %v, want 1 detail, 1 list, 2 auth failures", m)
	}
	if got := f.srv.Calls(); got.Detail != 1 || got.List != 1 {
		t.Fatalf("reading the counters counted as a call: %+v", got)
	}
}
