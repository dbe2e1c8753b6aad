package sim_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
)

const validScenario = `
project_id: p1
tasks:
  - id: t1
    name: one
    source: {id: s, port: 6379, db: 0, password: pw}
    steps:
      - {at: 0s, status: RUNNING}
      - {at: 4s, status: FULLMIGRATING, task_status: ""}
    removed_at: 40s
  - id: t2
    appears_at: 5s
    steps:
      - {at: 5s, status: MIGRATING}
faults:
  - {at: 12s, for: 3s, kind: server_error, task: ""}
  - {at: 1s, for: 1s, kind: slow, delay: 2s, task: t2}
`

func TestParseScenarioValid(t *testing.T) {
	sc, err := sim.ParseScenario([]byte(validScenario))
	if err != nil {
		t.Fatalf("ParseScenario: %v", err)
	}
	t1 := sc.Tasks[0]
	// Unquoted YAML numbers are read as the text the wire carries.
	if t1.Source.Port != "6379" || t1.Source.DB != "0" {
		t.Errorf("port, db = %q, %q; want \"6379\", \"0\"", t1.Source.Port, t1.Source.DB)
	}
	// task_status: "" is named (clears the field); status left out is not.
	st := t1.Steps[1]
	if st.TaskStatus == nil || *st.TaskStatus != "" {
		t.Errorf("steps[1].task_status = %v, want a pointer to \"\"", st.TaskStatus)
	}
	if st.SourceTaskStatus != nil {
		t.Errorf("steps[1].source_task_status = %q, want nil (not named)", *st.SourceTaskStatus)
	}
	if t1.RemovedAt == nil || *t1.RemovedAt != 40*time.Second {
		t.Errorf("removed_at = %v, want 40s", t1.RemovedAt)
	}
	if sc.Faults[1].Delay != 2*time.Second || sc.Faults[1].Kind != sim.FaultSlow {
		t.Errorf("faults[1] = %+v", sc.Faults[1])
	}
}

func TestParseScenarioErrors(t *testing.T) {
	const head = "project_id: p1\ntasks:\n"
	const okTask = "  - id: t1\n    steps: [{at: 0s, status: RUNNING}]\n"
	tests := []struct {
		name string
		doc  string
		want []string // substrings of the error
	}{
		{"empty document", "", []string{"empty"}},
		{"unknown top-level key", "project_id: p1\nprojct: x\n", []string{"line 2", "projct"}},
		{"unknown task key", head + "  - id: t1\n    nmae: x\n    steps: [{at: 0s, status: RUNNING}]\n", []string{"line 4", "nmae"}},
		{"unknown step key", head + "  - id: t1\n    steps: [{at: 0s, state: RUNNING}]\n", []string{"line 4", "state"}},
		{"duration without unit", head + "  - id: t1\n    steps: [{at: 4, status: RUNNING}]\n", []string{"line 4", "time.Duration"}},
		{"missing project", "tasks:\n" + okTask, []string{"project_id: must be set"}},
		{"empty id", head + "  - name: x\n    steps: [{at: 0s, status: RUNNING}]\n", []string{"tasks[0].id: must be set"}},
		{"bad id characters", head + "  - id: t_1\n    steps: [{at: 0s, status: RUNNING}]\n", []string{`tasks[0].id: "t_1"`}},
		{"duplicate id", head + okTask + okTask, []string{`tasks[1].id: "t1" is already the id of tasks[0]`}},
		{"no steps", head + "  - id: t1\n", []string{"tasks[0].steps: at least one step"}},
		{"first step without status", head + "  - id: t1\n    steps: [{at: 0s, task_status: X}]\n", []string{"tasks[0].steps[0].status: the first step must set a status"}},
		{"first step after appearance", head + "  - id: t1\n    steps: [{at: 3s, status: RUNNING}]\n", []string{"tasks[0].steps[0].at: 3s is after appears_at (0s)"}},
		{"steps not increasing", head + "  - id: t1\n    steps: [{at: 0s, status: RUNNING}, {at: 4s}, {at: 4s}]\n", []string{"tasks[0].steps[2].at: 4s must be after steps[1].at (4s)"}},
		{"removed before appearing", head + "  - id: t1\n    appears_at: 5s\n    removed_at: 5s\n    steps: [{at: 0s, status: RUNNING}]\n", []string{"tasks[0].removed_at: 5s must be after appears_at (5s)"}},
		{"unknown fault kind", head + okTask + "faults: [{at: 1s, for: 1s, kind: explode}]\n", []string{`faults[0].kind: unknown fault kind "explode"`}},
		{"fault without duration", head + okTask + "faults: [{at: 1s, kind: throttle}]\n", []string{"faults[0].for: must be a positive duration"}},
		{"fault on unknown task", head + okTask + "faults: [{at: 1s, for: 1s, kind: auth, task: t9}]\n", []string{`faults[0].task: "t9" is not the id of any task`}},
		{"slow without delay", head + okTask + "faults: [{at: 1s, for: 1s, kind: slow}]\n", []string{"faults[0].delay: a slow fault needs a positive delay"}},
		{"oversized without bytes", head + okTask + "faults: [{at: 1s, for: 1s, kind: oversized}]\n", []string{"faults[0].bytes: an oversized fault needs a positive size"}},
		{"fields on another kind", head + okTask + "faults: [{at: 1s, for: 1s, kind: auth, fields: [a]}]\n", []string{"faults[0].fields: only a nulls fault takes fields"}},
		{"two documents", head + okTask + "---\nproject_id: p2\n", []string{"more than one YAML document"}},
		{"every problem reported", "tasks:\n  - id: t1\n    steps: [{at: 2s}]\n", []string{"project_id: must be set", "tasks[0].steps[0].status", "tasks[0].steps[0].at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := sim.ParseScenario([]byte(tt.doc))
			if err == nil {
				t.Fatalf("ParseScenario accepted it: %+v", sc)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// A scenario built in Go, as a benchmark would, validates the same way.
func TestValidateGoScenario(t *testing.T) {
	sc := &sim.Scenario{ProjectID: "p1"}
	for i := range 3 {
		sc.Tasks = append(sc.Tasks, sim.TaskSpec{
			ID:    "task-" + string(rune('a'+i)),
			Steps: []sim.Step{{Status: new("RUNNING")}},
		})
	}
	if err := sc.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	sc.Tasks[2].ID = "task-a"
	if err := sc.Validate(); err == nil || !strings.Contains(err.Error(), "tasks[2].id") {
		t.Fatalf("Validate with a duplicate id = %v, want an error naming tasks[2].id", err)
	}
}

func TestLoadScenario(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(validScenario), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.LoadScenario(good); err != nil {
		t.Errorf("LoadScenario(good): %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("project_id: p1\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.LoadScenario(bad); err == nil || !strings.Contains(err.Error(), "bad.yaml") || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("LoadScenario(bad) = %v, want an error naming the file and the key", err)
	}
	if _, err := sim.LoadScenario(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("LoadScenario(missing) = %v, want an error naming the file", err)
	}
}
