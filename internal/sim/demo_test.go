package sim_test

import (
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/configs"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/sim"
)

// The demo plays what `watcher demo` promises: an online migration through
// its whole life, a failing backup import, a full sync that stalls and
// resumes, and one API outage well apart from every change, in about 18 s.
func TestDemoScenario(t *testing.T) {
	sc, err := sim.ParseScenario(configs.DemoScenario)
	if err != nil {
		t.Fatalf("demo scenario: %v", err)
	}
	if len(sc.Tasks) != 3 || len(sc.Faults) != 1 {
		t.Fatalf("%d tasks, %d faults; want 3 and 1", len(sc.Tasks), len(sc.Faults))
	}
	online, backup, full := sc.Tasks[0], sc.Tasks[1], sc.Tasks[2]
	if online.MigrationType != "online_migration" || backup.MigrationType != "backupfile_import" || backup.BackupFiles == nil {
		t.Fatalf("task types %q, %q (backup files %v); want an online migration and a backup import",
			online.MigrationType, backup.MigrationType, backup.BackupFiles)
	}
	f := start(t, sc, sim.Options{})
	if d := f.srv.Duration(); d < 15*time.Second || d > 20*time.Second {
		t.Errorf("Duration() = %s, want about 18 s", d)
	}

	// Poll as the watcher would, a little faster, and record what it sees.
	var onlineSeen, backupSeen, fullSeen []string
	var outage []time.Duration
	for at := time.Duration(0); at <= f.srv.Duration()+3*time.Second; at += 250 * time.Millisecond {
		f.clock.at(at)
		if r := f.get(t, listPath("")); r.status == http.StatusInternalServerError {
			outage = append(outage, at)
			continue
		}
		for _, p := range []struct {
			id   string
			seen *[]string
		}{{online.ID, &onlineSeen}, {backup.ID, &backupSeen}, {full.ID, &fullSeen}} {
			r := f.get(t, "/v2/"+sc.ProjectID+"/migration-task/"+p.id)
			st, _ := r.obj(t)["status"].(string)
			if n := len(*p.seen); n == 0 || (*p.seen)[n-1] != st {
				*p.seen = append(*p.seen, st)
			}
		}
	}
	if want := []string{"RUNNING", "FULLMIGRATING", "INCRMIGEATING", "TERMINATING", "TERMINATED"}; !slices.Equal(onlineSeen, want) {
		t.Errorf("online migration went %v, want %v", onlineSeen, want)
	}
	if want := []string{"MIGRATING", "FAILED"}; !slices.Equal(backupSeen, want) {
		t.Errorf("backup import went %v, want %v", backupSeen, want)
	}
	if want := []string{"RUNNING", "FULLMIGRATING", "SUCCESS"}; !slices.Equal(fullSeen, want) {
		t.Errorf("full sync went %v, want %v", fullSeen, want)
	}
	rows := f.get(t, listPath("")).obj(t)["migration_tasks"].([]any)
	for _, row := range rows {
		if r := row.(map[string]any); r["task_id"] == backup.ID && r["error_message"] == nil {
			t.Errorf("the failed import's list row has no error_message")
		}
	}
	if len(outage) == 0 {
		t.Fatal("no outage seen")
	}
	if span := outage[len(outage)-1] - outage[0]; span < 2*time.Second || span > 3*time.Second {
		t.Errorf("outage seen from %s to %s, want about 2.5 s", outage[0], outage[len(outage)-1])
	}

	// The outage is at least 1.5 s away from every change, so that
	// "degraded" and "recovered" never hide a status change.
	fault := sc.Faults[0]
	if fault.Kind != sim.FaultServerError || fault.Task != "" {
		t.Errorf("fault = %+v, want a server_error on every call", fault)
	}
	for _, task := range sc.Tasks {
		for _, st := range task.Steps {
			if st.At > fault.At-1500*time.Millisecond && st.At < fault.At+fault.For+1500*time.Millisecond {
				t.Errorf("%s: step at %s is within 1.5 s of the outage [%s, %s)", task.Name, st.At, fault.At, fault.At+fault.For)
			}
		}
	}
}

// The demo's full sync stalls: its percent, polled as the watcher would,
// holds for longer than the demo's stall allowance (a few seconds at the
// demo's time scale) outside the outage, then moves on to 100.
func TestDemoStall(t *testing.T) {
	sc, err := sim.ParseScenario(configs.DemoScenario)
	if err != nil {
		t.Fatal(err)
	}
	full := sc.Tasks[2]
	f := start(t, sc, sim.Options{})
	var last float64 = -1
	var since, longest time.Duration
	for at := time.Duration(0); at <= f.srv.Duration(); at += 250 * time.Millisecond {
		f.clock.at(at)
		r := f.get(t, "/v2/"+sc.ProjectID+"/migration-task/"+full.ID+"/stats")
		if r.status != http.StatusOK {
			continue // the outage: nothing seen, nothing moved
		}
		text, ok := r.obj(t)["full_migration_progress"].(string)
		if !ok {
			continue // not started yet
		}
		p, _ := strconv.ParseFloat(text, 64)
		if p != last {
			last, since = p, at
		}
		if p > 0 && p < 100 {
			longest = max(longest, at-since)
		}
	}
	if longest < 8*time.Second {
		t.Errorf("the full sync held its percent for at most %s, want a stall of more than 8 s", longest)
	}
	if last != 100 {
		t.Errorf("the full sync ended at %v %%, want 100", last)
	}
}

// The demo's failure writes two or three ERROR lines, newest first; one
// quotes a password of the scenario, which dcs.ScrubSecrets removes.
func TestDemoFailureLog(t *testing.T) {
	sc, err := sim.ParseScenario(configs.DemoScenario)
	if err != nil {
		t.Fatal(err)
	}
	backup := sc.Tasks[1]
	f := start(t, sc, sim.Options{})
	f.clock.at(f.srv.Duration())
	m := f.get(t, "/v2/"+sc.ProjectID+"/migration-task/"+backup.ID+"/logs?log_level=ERROR").obj(t)
	lines, _ := m["migration_logs"].([]any)
	if len(lines) < 2 || len(lines) > 3 {
		t.Fatalf("%d ERROR lines, want 2 or 3: %v", len(lines), m)
	}
	planted := 0
	for _, l := range lines {
		msg := l.(map[string]any)["message"].(string)
		for _, pw := range f.srv.Passwords() {
			if strings.Contains(msg, pw) {
				planted++
				if got := dcs.ScrubSecrets(msg); strings.Contains(got, pw) || !strings.Contains(got, "<secret>") {
					t.Errorf("ScrubSecrets(%q) = %q, want the password as <secret>", msg, got)
				}
			}
		}
	}
	if planted != 1 {
		t.Errorf("%d lines quote a scenario password, want 1", planted)
	}
}

// Every example scenario parses.
func TestExampleScenarios(t *testing.T) {
	files, err := fs.Glob(configs.Scenarios, "scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example scenarios embedded (%v)", err)
	}
	for _, name := range files {
		data, err := fs.ReadFile(configs.Scenarios, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sim.ParseScenario(data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
