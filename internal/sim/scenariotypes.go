package sim

import (
	"time"
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
