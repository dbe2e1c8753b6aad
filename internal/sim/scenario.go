package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// ParseScenario reads a scenario from YAML. Unknown keys are errors (with
// their line), and the result is validated (see Validate).
func ParseScenario(data []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var sc Scenario
	if err := dec.Decode(&sc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("parse scenario: the document is empty")
		}
		return nil, fmt.Errorf("parse scenario: %w", err)
	}
	// A second document would be silently ignored: refuse it instead.
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("parse scenario: more than one YAML document")
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("parse scenario: %w", err)
	}
	return &sc, nil
}

// LoadScenario reads and parses the scenario file at path.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	sc, err := ParseScenario(data)
	if err != nil {
		return nil, fmt.Errorf("load scenario %s: %w", path, err)
	}
	return sc, nil
}

// Validate checks a scenario and returns every problem found, each naming
// its key path (tasks[1].steps[2].at: ...), joined with errors.Join.
func (sc *Scenario) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if sc.ProjectID == "" {
		add("project_id: must be set")
	} else if !validID(sc.ProjectID) {
		add("project_id: %q may hold only letters, digits and '-'", sc.ProjectID)
	}
	ids := make(map[string]int, len(sc.Tasks))
	for i := range sc.Tasks {
		errs = append(errs, sc.Tasks[i].validate(fmt.Sprintf("tasks[%d]", i))...)
		id := sc.Tasks[i].ID
		if id == "" {
			continue
		}
		if j, dup := ids[id]; dup {
			add("tasks[%d].id: %q is already the id of tasks[%d]", i, id, j)
			continue
		}
		ids[id] = i
	}
	for i := range sc.Faults {
		errs = append(errs, sc.Faults[i].validate(fmt.Sprintf("faults[%d]", i), ids)...)
	}
	return errors.Join(errs...)
}

func (t *TaskSpec) validate(path string) []error {
	var errs []error
	add := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf(path+"."+format, a...))
	}
	switch {
	case t.ID == "":
		add("id: must be set")
	case !validID(t.ID):
		add("id: %q may hold only letters, digits and '-'", t.ID)
	}
	if t.AppearsAt < 0 {
		add("appears_at: %s is negative", t.AppearsAt)
	}
	if t.RemovedAt != nil && *t.RemovedAt <= t.AppearsAt {
		add("removed_at: %s must be after appears_at (%s)", *t.RemovedAt, t.AppearsAt)
	}
	if len(t.Steps) == 0 {
		add("steps: at least one step is needed (the state when the task appears)")
		return errs
	}
	first := t.Steps[0]
	if first.Status == nil || *first.Status == "" {
		add("steps[0].status: the first step must set a status")
	}
	if first.At > t.AppearsAt {
		add("steps[0].at: %s is after appears_at (%s): the task has no state when it appears", first.At, t.AppearsAt)
	}
	for j := range t.Steps {
		st := &t.Steps[j]
		if st.At < 0 {
			add("steps[%d].at: %s is negative", j, st.At)
		}
		if j > 0 && st.At <= t.Steps[j-1].At {
			add("steps[%d].at: %s must be after steps[%d].at (%s)", j, st.At, j-1, t.Steps[j-1].At)
		}
		validateProgress(st, j, j == len(t.Steps)-1, add)
	}
	return errs
}

func (f *Fault) validate(path string, ids map[string]int) []error {
	var errs []error
	add := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf(path+"."+format, a...))
	}
	if !f.Kind.Known() {
		add("kind: unknown fault kind %q (want server_error, throttle, auth, malformed, slow, oversized, numbers, nulls, empty_list, bare_list or short_list)", f.Kind)
	}
	if f.At < 0 {
		add("at: %s is negative", f.At)
	}
	if f.For <= 0 {
		add("for: must be a positive duration, got %s", f.For)
	}
	if _, ok := ids[f.Task]; f.Task != "" && !ok {
		add("task: %q is not the id of any task", f.Task)
	}
	switch f.Call {
	case "", callDetail, callStats, callLogs:
	case callList:
		if f.Task != "" {
			add("call: a list call is about no one task: leave task out")
		}
	default:
		add("call: unknown call %q (want detail, list, stats or logs)", f.Call)
	}
	if f.Kind == FaultSlow && f.Delay <= 0 {
		add("delay: a slow fault needs a positive delay")
	}
	if f.Kind != FaultSlow && f.Delay != 0 {
		add("delay: only a slow fault takes a delay")
	}
	if f.Kind == FaultOversized && f.Bytes <= 0 {
		add("bytes: an oversized fault needs a positive size")
	}
	if f.Kind != FaultOversized && f.Bytes != 0 {
		add("bytes: only an oversized fault takes a size")
	}
	if f.Kind != FaultNulls && len(f.Fields) > 0 {
		add("fields: only a nulls fault takes fields")
	}
	for k, name := range f.Fields {
		if name == "" {
			add("fields[%d]: empty field name", k)
		}
	}
	return errs
}

// validateProgress checks the progress and log lines of step j of a task;
// last says that no later step ends a ramp.
func validateProgress(st *Step, j int, last bool, add func(format string, a ...any)) {
	if p := st.Progress; p != nil {
		for _, c := range []struct {
			name   string
			curve  *Curve
			maxVal float64
		}{
			{"percent", p.Percent, 100}, {"lag", p.Lag, math.MaxFloat64},
			{"source_dbsize", p.SourceDBSize, math.MaxFloat64}, {"target_dbsize", p.TargetDBSize, math.MaxFloat64},
			{"kbps", p.Kbps, math.MaxFloat64}, {"ops", p.Ops, math.MaxFloat64},
		} {
			if c.curve == nil {
				continue
			}
			where := fmt.Sprintf("steps[%d].progress.%s", j, c.name)
			for _, v := range []float64{c.curve.From, c.curve.To} {
				if v < 0 || v > c.maxVal || math.IsNaN(v) {
					add("%s: %v is not in 0..%v", where, v, c.maxVal)
					break
				}
			}
			if c.curve.Over < 0 {
				add("%s.over: %s is negative", where, c.curve.Over)
			}
			if c.curve.From != c.curve.To && c.curve.Over == 0 && last {
				add("%s: a ramp on the last step needs over (no later step ends it)", where)
			}
		}
	}
	for k, l := range st.Logs {
		where := fmt.Sprintf("steps[%d].logs[%d]", j, k)
		switch l.level() {
		case "INFO", "WARN", "ERROR", "DEBUG":
		default:
			add("%s.level: %q is not INFO, WARN, ERROR or DEBUG", where, l.Level)
		}
		if strings.TrimSpace(l.Message) == "" {
			add("%s.message: must be set", where)
		}
		if l.After < 0 {
			add("%s.after: %s is negative", where, l.After)
		}
	}
}
