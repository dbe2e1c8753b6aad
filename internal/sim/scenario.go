package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Scenario is what the simulator plays: the tasks of one project, how each
// changes over time, and the faults injected on the way. It is read from YAML
// (ParseScenario, LoadScenario) or built in Go, e.g. by a benchmark that
// generates 100k tasks; Validate checks either. All times are offsets from the
// scenario start.
type Scenario struct {
	ProjectID string     `yaml:"project_id"`
	Tasks     []TaskSpec `yaml:"tasks"`
	Faults    []Fault    `yaml:"faults"`
}

// TaskSpec is one migration task. The fields that do not change over time are
// given here; Steps say what changes and when.
type TaskSpec struct {
	ID                    string   `yaml:"id"`
	Name                  string   `yaml:"name"`
	Description           string   `yaml:"description"`
	MigrationType         string   `yaml:"migration_type"`
	MigrationMethod       string   `yaml:"migration_method"`
	NetworkType           string   `yaml:"network_type"`
	ECSTenantPrivateIP    string   `yaml:"ecs_tenant_private_ip"`
	ResumeMode            string   `yaml:"resume_mode"`
	Version               string   `yaml:"version"`
	SupportedFeatures     []string `yaml:"supported_features"`
	TenantVPCID           string   `yaml:"tenant_vpc_id"`
	TenantSubnetID        string   `yaml:"tenant_subnet_id"`
	TenantSecurityGroupID string   `yaml:"tenant_security_group_id"`
	BandwidthLimitMB      string   `yaml:"bandwidth_limit_mb"`

	// Source and Target are the Redis instances; nil leaves the object out
	// of the detail answer (a backup import has no source instance).
	Source      *InstanceSpec `yaml:"source"`
	Target      *InstanceSpec `yaml:"target"`
	BackupFiles *BackupFiles  `yaml:"backup_files"`

	// Steps are the task's states over time, in increasing At; the first
	// one must apply when the task appears and must set Status.
	Steps []Step `yaml:"steps"`

	// AppearsAt is when the task is created: before it, the list does not
	// show it and the detail call answers DCS.4133.
	AppearsAt time.Duration `yaml:"appears_at"`
	// RemovedAt, when set, is when the task is deleted: from then on the
	// list does not show it and the detail call answers DCS.4133.
	RemovedAt *time.Duration `yaml:"removed_at"`
}

// InstanceSpec is a source or target Redis of a task. Port and DB are strings
// as on the wire (an unquoted YAML number is read as its text).
type InstanceSpec struct {
	ID           string `yaml:"id"`
	Name         string `yaml:"name"`
	Addrs        string `yaml:"addrs"`
	IP           string `yaml:"ip"`
	Port         string `yaml:"port"`
	DB           string `yaml:"db"`
	Password     string `yaml:"password"`
	ProxyMultiDB bool   `yaml:"proxy_multi_db"`
	// Status is the instance's own status, shown in list rows as
	// source_instance_status / target_instance_status (e.g. RUNNING).
	Status   string `yaml:"status"`
	SubnetID string `yaml:"subnet_id"`
	SpecCode string `yaml:"spec_code"`
}

// BackupFiles are the files of a backup import (migration_type backupfile_import).
type BackupFiles struct {
	FileSource string       `yaml:"file_source"`
	BucketName string       `yaml:"bucket_name"`
	BackupID   string       `yaml:"backup_id"`
	Files      []BackupFile `yaml:"files"`
}

// BackupFile is one file of a backup import; Size is a string as on the wire.
type BackupFile struct {
	Name     string `yaml:"file_name"`
	Size     string `yaml:"size"`
	UpdateAt string `yaml:"update_at"`
}

// Step is the state of a task at and after At. A nil field keeps the value
// of the previous steps; a field set to "" clears it. Pointers make that
// difference visible, in YAML (a key left out) and in Go (new("RUNNING")).
type Step struct {
	At               time.Duration `yaml:"at"`
	Status           *string       `yaml:"status"`
	TaskStatus       *string       `yaml:"task_status"`
	SourceTaskStatus *string       `yaml:"source_task_status"`
	TargetTaskStatus *string       `yaml:"target_task_status"`
	// ErrorMessage shows in list rows only, as in the real API.
	ErrorMessage     *string `yaml:"error_message"`
	Description      *string `yaml:"description"`
	BandwidthLimitMB *string `yaml:"bandwidth_limit_mb"`
	// Progress is what the stats call answers from this step on.
	Progress *Progress `yaml:"progress"`
	// Logs are lines the step writes to the task's log.
	Logs []LogLine `yaml:"logs"`
}

// FaultKind names how a fault answers.
type FaultKind string

// The fault kinds. Those that answer 200 (malformed, oversized, numbers,
// nulls) change a successful answer only; slow delays any answer.
const (
	// FaultServerError answers 500 with DCS.5000.
	FaultServerError FaultKind = "server_error"
	// FaultThrottle answers 429 with APIGW.0308 and Retry-After: 1.
	FaultThrottle FaultKind = "throttle"
	// FaultAuth answers 401 with APIGW.0301.
	FaultAuth FaultKind = "auth"
	// FaultMalformed answers 200 with the body cut in half.
	FaultMalformed FaultKind = "malformed"
	// FaultSlow answers after Delay, or not at all if the client gives up.
	FaultSlow FaultKind = "slow"
	// FaultOversized answers 200 with a valid body larger than Bytes.
	FaultOversized FaultKind = "oversized"
	// FaultNumbers answers 200 with port, db, size and bandwidth_limit_mb
	// as JSON numbers: a quirk the watcher must accept, not an error.
	FaultNumbers FaultKind = "numbers"
	// FaultNulls answers 200 with Fields (or a default set) null.
	FaultNulls FaultKind = "nulls"
	// FaultEmptyList answers a list call with no task at all
	// ({"count":0,"migration_tasks":[]}); detail calls are unchanged.
	FaultEmptyList FaultKind = "empty_list"
	// FaultBareList answers a list call with {}; detail calls are unchanged.
	FaultBareList FaultKind = "bare_list"
	// FaultShortList drops the last row of each list page but keeps its
	// count: a list that disagrees with itself.
	FaultShortList FaultKind = "short_list"
)

// Known reports whether k is one of the fault kinds above.
func (k FaultKind) Known() bool {
	switch k {
	case FaultServerError, FaultThrottle, FaultAuth, FaultMalformed,
		FaultSlow, FaultOversized, FaultNumbers, FaultNulls,
		FaultEmptyList, FaultBareList, FaultShortList:
		return true
	}
	return false
}

// Fault changes the answers to calls made in [At, At+For). Task "" means
// every call, the list call included; a task id means that task's calls
// only (detail, stats and logs). Call narrows either to one kind of call.
type Fault struct {
	At   time.Duration `yaml:"at"`
	For  time.Duration `yaml:"for"`
	Kind FaultKind     `yaml:"kind"`
	Task string        `yaml:"task"`
	// Call is the kind of call the fault hits: "" (every kind), "detail",
	// "list", "stats" or "logs".
	Call string `yaml:"call"`
	// Delay is how long a slow fault holds the answer (required for slow).
	Delay time.Duration `yaml:"delay"`
	// Bytes is the size an oversized body exceeds (required for oversized).
	Bytes int `yaml:"bytes"`
	// Fields are the fields a nulls fault sets to null, as JSON names with
	// one level of nesting ("source_instance.task_status"); empty means a
	// default set of optional fields.
	Fields []string `yaml:"fields"`
}

func (f *Fault) active(elapsed time.Duration) bool {
	return elapsed >= f.At && elapsed < f.At+f.For
}

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

// validID reports whether s is a well-formed task or project id, the
// pattern the simulator also enforces on request paths (DCS.4070).
func validID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}
