package sim_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
)

// A test in another process reads the API's truth at TasksPath: each
// task's status now and how many status changes it has made, agreeing with
// the plan StatusChanges reports, without a signature and without counting
// as a call.
func TestTasksEndpointFollowsThePlan(t *testing.T) {
	o := fleetOptions()
	sc := sim.Fleet(o)
	f := start(t, sc, sim.Options{AK: "AK", SK: "SK"})
	plan := sc.StatusChanges()
	if len(plan) < 3 {
		t.Fatalf("plan of %d changes, want a few", len(plan))
	}
	mid := plan[len(plan)/2].At
	for _, at := range []time.Duration{0, mid, sc.Tasks[0].Steps[len(sc.Tasks[0].Steps)-1].At + time.Hour} {
		f.clock.at(at)
		r := f.get(t, sim.TasksPath)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", sim.TasksPath, r.status, r.body)
		}
		var got sim.Truth
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
		if got.Elapsed != at || len(got.Tasks) != len(sc.Tasks) {
			t.Fatalf("at %s: elapsed %s, %d tasks; want %s, %d", at, got.Elapsed, len(got.Tasks), at, len(sc.Tasks))
		}
		if want := at >= f.srv.Duration(); got.Quiet != want {
			t.Errorf("at %s: quiet = %v, want %v (scenario lasts %s)", at, got.Quiet, want, f.srv.Duration())
		}
		// What the plan says each task's status and change count are at.
		status, changes := map[string]string{}, map[string]int{}
		for _, ts := range sc.Tasks {
			status[ts.ID] = *ts.Steps[0].Status
		}
		for _, c := range plan {
			if c.At <= at {
				status[c.TaskID] = c.Status
				changes[c.TaskID]++
			}
		}
		for _, tt := range got.Tasks {
			if !tt.Visible || tt.Status != status[tt.ID] || tt.StatusChanges != changes[tt.ID] {
				t.Fatalf("at %s: task %s = %+v, want visible, status %s, %d changes", at, tt.ID, tt, status[tt.ID], changes[tt.ID])
			}
		}
	}
	if c := f.srv.Calls(); c.Detail+c.List+c.AuthFailures != 0 {
		t.Fatalf("reading the truth counted as calls: %+v", c)
	}
}
