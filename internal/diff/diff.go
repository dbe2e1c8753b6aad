package diff

import (
	"slices"
	"strconv"
	"strings"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// noiseField changes on every poll of an active task; on its own it says
// nothing a user wants to hear about.
const noiseField = "updated_at"

// fields flattens t into JSON path -> value, with the paths of dcs.Task's JSON
// tags ("source_instance.task_status", "backup_files.files[0].size"). Every
// scalar field is present, empty or not, so that a field that empties shows
// as a change to ""; booleans are "true"/"false"; supported_features is joined
// with ",". A nil task has no fields.
//
// It is written out field by field rather than with reflection: it runs for
// every task that changed, and a forgotten field is caught by a test that
// walks dcs.Task with reflection instead.
func fields(t *dcs.Task) map[string]string {
	if t == nil {
		return map[string]string{}
	}
	m := make(map[string]string, 48)
	m["task_id"] = t.ID
	m["task_name"] = t.Name
	m["description"] = t.Description
	m["status"] = t.Status
	m["task_status"] = t.TaskStatus
	m["migration_type"] = t.MigrationType
	m["migration_method"] = t.MigrationMethod
	m["network_type"] = t.NetworkType
	m["ecs_tenant_private_ip"] = t.ECSTenantPrivateIP
	m["resume_mode"] = t.ResumeMode
	m["supported_features"] = strings.Join(t.SupportedFeatures, ",")
	m["tenant_vpc_id"] = t.TenantVPCID
	m["tenant_subnet_id"] = t.TenantSubnetID
	m["tenant_security_group_id"] = t.TenantSecurityGroupID
	m["bandwidth_limit_mb"] = t.BandwidthLimitMB
	m["version"] = t.Version
	m["created_at"] = t.CreatedAt
	m["updated_at"] = t.UpdatedAt
	m["released_at"] = t.ReleasedAt
	m["error_message"] = t.ErrorMessage
	addInstance(m, "source_instance.", &t.Source)
	addInstance(m, "target_instance.", &t.Target)
	// A missing backup_files object reads like an empty one: the API may
	// omit or null it, and neither is a change worth an event.
	var b dcs.BackupFiles
	if t.BackupFiles != nil {
		b = *t.BackupFiles
	}
	m["backup_files.file_source"] = b.FileSource
	m["backup_files.bucket_name"] = b.BucketName
	m["backup_files.backup_id"] = b.BackupID
	for i, f := range b.Files {
		p := "backup_files.files[" + strconv.Itoa(i) + "]."
		m[p+"file_name"] = f.Name
		m[p+"size"] = f.Size
		m[p+"update_at"] = f.UpdateAt
	}
	return m
}

func addInstance(m map[string]string, prefix string, in *dcs.Instance) {
	m[prefix+"id"] = in.ID
	m[prefix+"name"] = in.Name
	m[prefix+"addrs"] = in.Addrs
	m[prefix+"ip"] = in.IP
	m[prefix+"port"] = in.Port
	m[prefix+"db"] = in.DB
	m[prefix+"proxy_multi_db"] = strconv.FormatBool(in.ProxyMultiDB)
	m[prefix+"task_status"] = in.TaskStatus
	m[prefix+"status"] = in.Status
	m[prefix+"password_set"] = strconv.FormatBool(in.PasswordSet)
}

// Equal reports whether a and b hold the same values, nil-safe. A nil slice
// equals an empty one and a nil BackupFiles equals an empty one, as fields
// sees them, so a snapshot is not rewritten for a difference nobody can see.
// It allocates nothing: the poller calls it for every task on every poll.
func Equal(a, b *dcs.Task) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a == b {
		return true
	}
	return a.ID == b.ID &&
		a.Name == b.Name &&
		a.Description == b.Description &&
		a.Status == b.Status &&
		a.TaskStatus == b.TaskStatus &&
		a.MigrationType == b.MigrationType &&
		a.MigrationMethod == b.MigrationMethod &&
		a.NetworkType == b.NetworkType &&
		a.ECSTenantPrivateIP == b.ECSTenantPrivateIP &&
		a.ResumeMode == b.ResumeMode &&
		slices.Equal(a.SupportedFeatures, b.SupportedFeatures) &&
		a.TenantVPCID == b.TenantVPCID &&
		a.TenantSubnetID == b.TenantSubnetID &&
		a.TenantSecurityGroupID == b.TenantSecurityGroupID &&
		a.BandwidthLimitMB == b.BandwidthLimitMB &&
		a.Version == b.Version &&
		a.CreatedAt == b.CreatedAt &&
		a.UpdatedAt == b.UpdatedAt &&
		a.ReleasedAt == b.ReleasedAt &&
		a.ErrorMessage == b.ErrorMessage &&
		a.Source == b.Source &&
		a.Target == b.Target &&
		equalBackup(a.BackupFiles, b.BackupFiles)
}

func equalBackup(a, b *dcs.BackupFiles) bool {
	var x, y dcs.BackupFiles
	if a != nil {
		x = *a
	}
	if b != nil {
		y = *b
	}
	return x.FileSource == y.FileSource &&
		x.BucketName == y.BucketName &&
		x.BackupID == y.BackupID &&
		slices.Equal(x.Files, y.Files)
}

// Diff returns the events that lead from prev to curr, in the order
// StatusChanged, TaskStatusChanged (task, source, target), Changed.
//
//   - prev nil, curr not: one Discovered event.
//   - curr nil: nothing; a task's removal is reported by RemovedEvent, because
//     only the caller knows whether a missing task is gone or unseen.
//   - the normalised status differs: StatusChanged. A spelling change alone
//     (INCRMIGRATING -> INCRMIGEATING) is no change at all: the status
//     field is left out of the changes.
//   - a task_status differs: one TaskStatusChanged per scope.
//   - any other field differs and nothing above fired: one Changed.
//   - only updated_at differs: nothing, it moves on every poll.
//
// Every event holds its own copies of prev and curr and the full sorted list
// of changed fields (updated_at included when something else changed). The
// task id is curr's.
func Diff(prev, curr *dcs.Task) []Event {
	switch {
	case curr == nil:
		return nil
	case prev == nil:
		return []Event{newEvent(Discovered, curr.ID, "", nil, curr, nil, canonicalJSON(nil), canonicalJSON(curr))}
	case onlyNoise(prev, curr):
		return nil
	}
	changes := fieldChanges(prev, curr)
	if !meaningful(changes) {
		return nil
	}
	var events []Event
	prevJSON, currJSON := canonicalJSON(prev), canonicalJSON(curr)
	add := func(kind Kind, scope string) {
		events = append(events, newEvent(kind, curr.ID, scope, prev, curr, changes, prevJSON, currJSON))
	}
	if prev.NormStatus() != curr.NormStatus() {
		add(StatusChanged, "")
	}
	if prev.TaskStatus != curr.TaskStatus {
		add(TaskStatusChanged, ScopeTask)
	}
	if prev.Source.TaskStatus != curr.Source.TaskStatus {
		add(TaskStatusChanged, ScopeSource)
	}
	if prev.Target.TaskStatus != curr.Target.TaskStatus {
		add(TaskStatusChanged, ScopeTarget)
	}
	if len(events) == 0 {
		add(Changed, "")
	}
	return events
}

// fieldChanges compares the flattened tasks, sorted by field name. A field
// present on one side only (a backup file that came or went) reads as "" on
// the other.
func fieldChanges(prev, curr *dcs.Task) []FieldChange {
	a, b := fields(prev), fields(curr)
	if prev.NormStatus() == curr.NormStatus() {
		delete(a, "status") // one status, two spellings
		delete(b, "status")
	}
	var out []FieldChange
	for k, old := range a {
		if nv := b[k]; nv != old {
			out = append(out, FieldChange{Field: k, Old: old, New: nv})
		}
	}
	for k, nv := range b {
		if _, seen := a[k]; !seen && nv != "" {
			out = append(out, FieldChange{Field: k, New: nv})
		}
	}
	slices.SortFunc(out, func(x, y FieldChange) int { return strings.Compare(x.Field, y.Field) })
	return out
}

// onlyNoise reports whether prev and curr differ in updated_at at most: the
// common case of an active task, decided without flattening either.
func onlyNoise(prev, curr *dcs.Task) bool {
	c := *curr
	c.UpdatedAt = prev.UpdatedAt
	if c.Status != prev.Status && c.NormStatus() == prev.NormStatus() {
		c.Status = prev.Status
	}
	return Equal(prev, &c)
}

func meaningful(changes []FieldChange) bool {
	for _, c := range changes {
		if c.Field != noiseField {
			return true
		}
	}
	return false
}

// Returned is the event of a task seen again, unchanged, after it was
// reported removed: a Discovered event that carries the last snapshot as
// its previous state. A task that came back changed gets the events of
// Diff against its last snapshot instead (a status_changed, never hidden
// as a first sight).
func Returned(prev, curr *dcs.Task) Event {
	e := newEvent(Discovered, curr.ID, "", prev, curr, nil, canonicalJSON(prev), canonicalJSON(curr))
	e.Reason = "seen again after it was reported removed"
	return e
}

// RemovedEvent is the event of a task that is gone (missing from the list
// call, or DCS.4133 on the detail call); prev is its last snapshot. It is not
// named Removed because that is the event kind.
func RemovedEvent(prev *dcs.Task) Event {
	var id string
	if prev != nil {
		id = prev.ID
	}
	return newEvent(Removed, id, "", prev, nil, nil, canonicalJSON(prev), canonicalJSON(nil))
}

// Degraded is the event of the watcher going blind: it cannot see the task
// taskID, or, with taskID "", the API as a whole. class is the error class
// (auth, throttled, ...), reason a secret-free message; last is the last
// snapshot, nil if none. seq numbers the blindness episode: the caller
// persists it and increments it when an episode starts, so that a second
// outage over the same snapshot is a new event and not a duplicate.
func Degraded(taskID, class, reason string, last *dcs.Task, seq uint64) Event {
	e := watchEvent(WatchDegraded, taskID, class, last, seq)
	e.Reason = class
	if reason != "" {
		e.Reason += ": " + reason
	}
	return e
}

// Recovered ends the blindness episode seq that Degraded started; class is
// the class of that episode.
func Recovered(taskID, class string, last *dcs.Task, seq uint64) Event {
	e := watchEvent(WatchRecovered, taskID, class, last, seq)
	e.Reason = "recovered from " + class
	return e
}

func watchEvent(kind Kind, taskID, class string, last *dcs.Task, seq uint64) Event {
	return Event{
		ID:     eventID(kind, taskID, "", canonicalJSON(last), canonicalJSON(last), class, seq),
		Kind:   kind,
		TaskID: taskID,
		Prev:   clone(last),
		Curr:   clone(last),
	}
}

// newEvent copies everything it keeps, so that neither the caller nor a
// consumer of one event can change another event or a snapshot. prevJSON and
// currJSON are canonicalJSON(prev) and canonicalJSON(curr), computed once
// by the caller for all the events of one change.
func newEvent(kind Kind, taskID, scope string, prev, curr *dcs.Task, changes []FieldChange, prevJSON, currJSON []byte) Event {
	return Event{
		ID:      eventID(kind, taskID, scope, prevJSON, currJSON, "", 0),
		Kind:    kind,
		TaskID:  taskID,
		Scope:   scope,
		Prev:    clone(prev),
		Curr:    clone(curr),
		Changes: slices.Clone(changes),
	}
}

// clone is a deep copy: dcs.Task shares its slices between shallow copies.
func clone(t *dcs.Task) *dcs.Task {
	if t == nil {
		return nil
	}
	c := *t
	c.SupportedFeatures = slices.Clone(t.SupportedFeatures)
	if t.BackupFiles != nil {
		b := *t.BackupFiles
		b.Files = slices.Clone(t.BackupFiles.Files)
		c.BackupFiles = &b
	}
	return &c
}
