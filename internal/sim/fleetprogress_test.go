package sim_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
)

// statsNumber reads a numeric string of a stats answer; ok is false when
// the field is missing.
func statsNumber(t *testing.T, m map[string]any, key string) (float64, bool) {
	t.Helper()
	v, ok := m[key]
	if !ok {
		return 0, false
	}
	s, isString := v.(string)
	if !isString {
		t.Fatalf("%s = %#v, want a numeric string", key, v)
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s = %q: %v", key, s, err)
	}
	return n, true
}

// A fleet's full syncs advance with the scenario's time, its incremental
// syncs report a small lag, and nothing moves backwards.
func TestFleetProgressAdvances(t *testing.T) {
	o := sim.FleetOptions{Tasks: 40, Seed: 7, ProjectID: project}
	f := start(t, sim.Fleet(o), sim.Options{})
	ids := listIDs(t, f.get(t, listPath("?limit=1000")))
	if len(ids) != 40 {
		t.Fatalf("%d tasks listed, want 40", len(ids))
	}
	advanced := 0
	for _, id := range ids {
		f.clock.at(0)
		status := f.get(t, detailPath(id)).obj(t)["status"]
		early := f.get(t, statsPath(id)).obj(t)
		f.clock.at(15 * time.Minute)
		late := f.get(t, statsPath(id)).obj(t)
		p0, ok0 := statsNumber(t, early, "full_migration_progress")
		p1, ok1 := statsNumber(t, late, "full_migration_progress")
		if !ok0 || !ok1 || p1 < p0 || p1 > 100 {
			t.Errorf("task %s (%v): percent %v then %v, want present and not falling", id, status, early["full_migration_progress"], late["full_migration_progress"])
		}
		if late["is_migrating"] != true {
			t.Errorf("task %s (%v): is_migrating = %v, want true", id, status, late["is_migrating"])
		}
		lag, hasLag := statsNumber(t, late, "offset")
		switch status {
		case "FULLMIGRATING":
			if p1 > p0 {
				advanced++
			}
		case "INCRMIGEATING":
			if p1 != 100 || !hasLag || lag < 0 || lag > 200 {
				t.Errorf("incremental task %s: percent %v, lag %v (present %v); want 100 and 0..200", id, p1, lag, hasLag)
			}
		}
	}
	if advanced != 20 {
		t.Errorf("%d of 20 full syncs advanced in 15 minutes, want all", advanced)
	}
}

// A failed fleet task has two or three ERROR lines, written when it
// failed, the list row's error_message the oldest of them.
func TestFleetFailuresLog(t *testing.T) {
	o := sim.FleetOptions{Tasks: 50, Seed: 3, ProjectID: project, BurstTasks: 5, BurstAt: time.Minute, BurstStatus: "FAILED"}
	sc := sim.Fleet(o)
	f := start(t, sc, sim.Options{})
	f.clock.at(time.Minute + 10*time.Second)
	reasons := map[string]string{}
	for _, row := range f.get(t, listPath("?limit=1000")).obj(t)["migration_tasks"].([]any) {
		r := row.(map[string]any)
		if r["status"] == "FAILED" {
			reasons[r["task_id"].(string)], _ = r["error_message"].(string)
		}
	}
	if len(reasons) != 5 {
		t.Fatalf("%d failed tasks, want the burst's 5", len(reasons))
	}
	for id, reason := range reasons {
		m := f.get(t, logsPath(id, "?log_level=ERROR")).obj(t)
		lines := m["migration_logs"].([]any)
		if n := len(lines); n < 2 || n > 3 || m["log_num"] != float64(n) {
			t.Errorf("task %s: %d ERROR lines (log_num %v), want 2 or 3", id, n, m["log_num"])
			continue
		}
		oldest := lines[len(lines)-1].(map[string]any)
		if oldest["message"] != reason || oldest["created_at"] != "2024-11-26T08:01:00.000Z" {
			t.Errorf("task %s: oldest line %v, want %q at the failure", id, oldest, reason)
		}
		if st := f.get(t, statsPath(id)); st.status != http.StatusOK || st.obj(t)["is_migrating"] != false {
			t.Errorf("task %s: stats %s, want is_migrating false", id, st.body)
		}
	}
	// Active tasks have no log lines to show.
	for _, task := range sc.Tasks {
		if _, failed := reasons[task.ID]; !failed {
			if n := f.get(t, logsPath(task.ID, "")).obj(t)["log_num"]; n != float64(0) {
				t.Errorf("active task %s: log_num %v, want 0", task.ID, n)
			}
			break
		}
	}
}
