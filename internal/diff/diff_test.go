package diff

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

const (
	t1 = "2019/10/22 14:44:30"
	t2 = "2019/10/22 15:00:00"
)

var idPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// onlineTask is an incremental online migration as the client hands it over.
func onlineTask() *dcs.Task {
	return &dcs.Task{
		ID:                "a276c1ffa0a54c2597fc824b917db317",
		Name:              "migration1",
		Status:            "RUNNING",
		MigrationType:     "online_migration",
		MigrationMethod:   "incremental_migration",
		NetworkType:       "vpc",
		BandwidthLimitMB:  "100",
		SupportedFeatures: []string{"bandwidth_limit", "resume"},
		CreatedAt:         t1,
		UpdatedAt:         t1,
		Source:            dcs.Instance{ID: "src-1", Name: "dcs-test", Addrs: "192.168.1.2:6379", TaskStatus: "RUNNING", PasswordSet: true},
		Target:            dcs.Instance{ID: "tgt-1", Name: "test-instance", Addrs: "192.168.1.3:6379", TaskStatus: "RUNNING", PasswordSet: true},
	}
}

// with returns a modified deep copy of t, leaving t alone.
func with(t *dcs.Task, mod func(*dcs.Task)) *dcs.Task {
	c := clone(t)
	mod(c)
	return c
}

// kinds renders events as "kind" or "kind/scope", in order.
func kinds(events []Event) []string {
	out := []string{}
	for _, e := range events {
		s := string(e.Kind)
		if e.Scope != "" {
			s += "/" + e.Scope
		}
		out = append(out, s)
	}
	return out
}

func fieldNames(changes []FieldChange) []string {
	out := []string{}
	for _, c := range changes {
		out = append(out, c.Field)
	}
	return out
}

// checkEvents asserts what every event of Diff(prev, curr) must hold.
// checkDiff diffs prev and curr and checks the event kinds, the changed
// fields of the first event, and what checkEvents checks of every event.
func checkDiff(t *testing.T, prev, curr *dcs.Task, wantKinds, wantFields []string) {
	t.Helper()
	events := Diff(prev, curr)
	if got := kinds(events); !slices.Equal(got, wantKinds) {
		t.Fatalf("kinds = %v, want %v", got, wantKinds)
	}
	if len(events) == 0 {
		return
	}
	if got := fieldNames(events[0].Changes); !slices.Equal(got, wantFields) {
		t.Errorf("changed fields = %v, want %v", got, wantFields)
	}
	checkEvents(t, events, prev, curr)
}

func checkEvents(t *testing.T, events []Event, prev, curr *dcs.Task) {
	t.Helper()
	seen := map[string]bool{}
	for i, e := range events {
		if !idPattern.MatchString(e.ID) {
			t.Errorf("event %d: id %q is not 32 hex digits", i, e.ID)
		}
		if seen[e.ID] {
			t.Errorf("event %d: id %s repeats within one Diff", i, e.ID)
		}
		seen[e.ID] = true
		if e.TaskID != curr.ID {
			t.Errorf("event %d: task id %q, want %q", i, e.TaskID, curr.ID)
		}
		if !reflect.DeepEqual(e.Prev, prev) || !reflect.DeepEqual(e.Curr, curr) {
			t.Errorf("event %d: snapshots are not copies of prev and curr", i)
		}
		if i > 0 && !reflect.DeepEqual(e.Changes, events[0].Changes) {
			t.Errorf("event %d: changes %v differ from event 0's %v", i, e.Changes, events[0].Changes)
		}
	}
}

func TestDiffFirstSightAndAbsence(t *testing.T) {
	task := onlineTask()
	tests := []struct {
		name       string
		prev, curr *dcs.Task
		want       []string
	}{
		{"both nil", nil, nil, []string{}},
		{"first sight", nil, task, []string{"discovered"}},
		{"vanished is not decided here", task, nil, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events := Diff(tc.prev, tc.curr)
			if got := kinds(events); !slices.Equal(got, tc.want) {
				t.Fatalf("kinds = %v, want %v", got, tc.want)
			}
			if len(events) == 0 {
				return
			}
			e := events[0]
			if e.Prev != nil || len(e.Changes) != 0 || e.Scope != "" {
				t.Errorf("discovered event has prev %v, changes %v, scope %q; want none", e.Prev, e.Changes, e.Scope)
			}
			checkEvents(t, events, tc.prev, tc.curr)
		})
	}
}

func TestDiffStatusTransitions(t *testing.T) {
	backup := with(onlineTask(), func(t *dcs.Task) {
		t.MigrationType = "backupfile_import"
		t.Source = dcs.Instance{}
		t.BackupFiles = &dcs.BackupFiles{FileSource: "self_build_obs", BucketName: "bucket", Files: []dcs.BackupFile{{Name: "dump.rdb", Size: "1048576"}}}
	})
	tests := []struct {
		name     string
		base     *dcs.Task
		from, to string
	}{
		{"configured", onlineTask(), "RUNNING", "FULLMIGRATING"},
		{"full done, incremental sync", onlineTask(), "FULLMIGRATING", "INCRMIGEATING"},
		{"stop requested", onlineTask(), "INCRMIGEATING", "TERMINATING"},
		{"stopped", onlineTask(), "TERMINATING", "TERMINATED"},
		{"backup import failed", backup, "MIGRATING", "FAILED"},
		{"unknown status passes through", onlineTask(), "MIGRATING", "PAUSED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := with(tc.base, func(t *dcs.Task) { t.Status = tc.from })
			curr := with(tc.base, func(t *dcs.Task) { t.Status, t.UpdatedAt = tc.to, t2 })
			events := Diff(prev, curr)
			if got := kinds(events); !slices.Equal(got, []string{"status_changed"}) {
				t.Fatalf("kinds = %v, want [status_changed]", got)
			}
			want := []FieldChange{{Field: "status", Old: tc.from, New: tc.to}, {Field: "updated_at", Old: t1, New: t2}}
			if !reflect.DeepEqual(events[0].Changes, want) {
				t.Errorf("changes = %v, want %v", events[0].Changes, want)
			}
			if events[0].Prev.Status != tc.from || events[0].Curr.Status != tc.to {
				t.Errorf("event says %s -> %s, want %s -> %s", events[0].Prev.Status, events[0].Curr.Status, tc.from, tc.to)
			}
			checkEvents(t, events, prev, curr)
		})
	}
}

func TestDiffSpellingVariant(t *testing.T) {
	tests := []struct {
		name       string
		from, to   string
		mod        func(*dcs.Task)
		wantKinds  []string
		wantFields []string
	}{
		// One status, two spellings: no event at all.
		{"documented to prose spelling", "INCRMIGEATING", "INCRMIGRATING", nil, nil, nil},
		{"prose to documented spelling", "INCRMIGRATING", "INCRMIGEATING", nil, nil, nil},
		{"case only", "incrmigeating", "INCRMIGEATING", nil, nil, nil},
		{"with another field", "INCRMIGEATING", "INCRMIGRATING",
			func(t *dcs.Task) { t.BandwidthLimitMB = "50" },
			[]string{"changed"}, []string{"bandwidth_limit_mb", "updated_at"}},
		{"with an instance task_status", "INCRMIGEATING", "INCRMIGRATING",
			func(t *dcs.Task) { t.Source.TaskStatus = "EXCHANGING" },
			[]string{"task_status_changed/source_instance"}, []string{"source_instance.task_status", "updated_at"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := with(onlineTask(), func(t *dcs.Task) { t.Status = tc.from })
			curr := with(prev, func(t *dcs.Task) {
				t.Status, t.UpdatedAt = tc.to, t2
				if tc.mod != nil {
					tc.mod(t)
				}
			})
			checkDiff(t, prev, curr, tc.wantKinds, tc.wantFields)
		})
	}
}

func TestDiffTaskStatus(t *testing.T) {
	tests := []struct {
		name       string
		mod        func(*dcs.Task)
		wantKinds  []string
		wantFields []string
	}{
		{"top level starts exchanging",
			func(t *dcs.Task) { t.TaskStatus = "EXCHANGING" },
			[]string{"task_status_changed/task"}, []string{"task_status", "updated_at"}},
		{"source exchanging",
			func(t *dcs.Task) { t.Source.TaskStatus = "EXCHANGING" },
			[]string{"task_status_changed/source_instance"}, []string{"source_instance.task_status", "updated_at"}},
		{"target exchanging",
			func(t *dcs.Task) { t.Target.TaskStatus = "EXCHANGING" },
			[]string{"task_status_changed/target_instance"}, []string{"target_instance.task_status", "updated_at"}},
		{"every scope at once, one event each, in order",
			func(t *dcs.Task) {
				t.Target.TaskStatus, t.Source.TaskStatus, t.TaskStatus = "EXCHANGING", "EXCHANGING", "EXCHANGING"
			},
			[]string{"task_status_changed/task", "task_status_changed/source_instance", "task_status_changed/target_instance"},
			[]string{"source_instance.task_status", "target_instance.task_status", "task_status", "updated_at"}},
		{"status first, then task_status; no changed",
			func(t *dcs.Task) { t.Target.TaskStatus, t.Status, t.BandwidthLimitMB = "", "FULLMIGRATING", "50" },
			[]string{"status_changed", "task_status_changed/target_instance"},
			[]string{"bandwidth_limit_mb", "status", "target_instance.task_status", "updated_at"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := onlineTask()
			curr := with(prev, func(t *dcs.Task) { t.UpdatedAt = t2; tc.mod(t) })
			checkDiff(t, prev, curr, tc.wantKinds, tc.wantFields)
		})
	}
}

func TestDiffOtherFields(t *testing.T) {
	tests := []struct {
		name        string
		base        func(*dcs.Task) // optional change to prev
		mod         func(*dcs.Task)
		wantChanges []FieldChange // nil: no event expected
	}{
		{"bandwidth limit lowered", nil,
			func(t *dcs.Task) { t.BandwidthLimitMB, t.UpdatedAt = "50", t2 },
			[]FieldChange{{Field: "bandwidth_limit_mb", Old: "100", New: "50"}, {Field: "updated_at", Old: t1, New: t2}}},
		{"bandwidth limit without updated_at", nil,
			func(t *dcs.Task) { t.BandwidthLimitMB = "50" },
			[]FieldChange{{Field: "bandwidth_limit_mb", Old: "100", New: "50"}}},
		{"password removed from the source", nil,
			func(t *dcs.Task) { t.Source.PasswordSet = false },
			[]FieldChange{{Field: "source_instance.password_set", Old: "true", New: "false"}}},
		{"feature added", nil,
			func(t *dcs.Task) { t.SupportedFeatures = append(t.SupportedFeatures, "exchange") },
			[]FieldChange{{Field: "supported_features", Old: "bandwidth_limit,resume", New: "bandwidth_limit,resume,exchange"}}},
		{"backup file appeared", nil,
			func(t *dcs.Task) {
				t.BackupFiles = &dcs.BackupFiles{Files: []dcs.BackupFile{{Name: "a.rdb", Size: "10"}}}
			},
			[]FieldChange{{Field: "backup_files.files[0].file_name", Old: "", New: "a.rdb"}, {Field: "backup_files.files[0].size", Old: "", New: "10"}}},
		{"only updated_at", nil, func(t *dcs.Task) { t.UpdatedAt = t2 }, nil},
		{"nothing", nil, func(t *dcs.Task) {}, nil},
		{"a difference fields cannot show, plus updated_at", nil,
			func(t *dcs.Task) { t.SupportedFeatures, t.UpdatedAt = []string{"bandwidth_limit,resume"}, t2 }, nil},
		{"empty instead of nil slices and backup files",
			func(t *dcs.Task) { t.SupportedFeatures = nil },
			func(t *dcs.Task) {
				t.SupportedFeatures, t.BackupFiles = []string{}, &dcs.BackupFiles{Files: []dcs.BackupFile{}}
			}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := onlineTask()
			if tc.base != nil {
				tc.base(prev)
			}
			curr := with(prev, tc.mod)
			events := Diff(prev, curr)
			if tc.wantChanges == nil {
				if len(events) != 0 {
					t.Fatalf("got %v, want no event", kinds(events))
				}
				return
			}
			if got := kinds(events); !slices.Equal(got, []string{"changed"}) {
				t.Fatalf("kinds = %v, want [changed]", got)
			}
			if !reflect.DeepEqual(events[0].Changes, tc.wantChanges) {
				t.Errorf("changes = %v, want %v", events[0].Changes, tc.wantChanges)
			}
			checkEvents(t, events, prev, curr)
		})
	}
}

func TestEqual(t *testing.T) {
	task := onlineTask()
	tests := []struct {
		name string
		a, b *dcs.Task
		want bool
	}{
		{"both nil", nil, nil, true},
		{"nil and task", nil, task, false},
		{"task and nil", task, nil, false},
		{"same pointer", task, task, true},
		{"deep copy", task, clone(task), true},
		{"nil and empty features", with(task, func(t *dcs.Task) { t.SupportedFeatures = nil }),
			with(task, func(t *dcs.Task) { t.SupportedFeatures = []string{} }), true},
		{"nil and empty backup files", task, with(task, func(t *dcs.Task) { t.BackupFiles = &dcs.BackupFiles{} }), true},
		{"updated_at differs", task, with(task, func(t *dcs.Task) { t.UpdatedAt = t2 }), false},
		{"target port differs", task, with(task, func(t *dcs.Task) { t.Target.Port = "6380" }), false},
		{"feature order differs", task, with(task, func(t *dcs.Task) { slices.Reverse(t.SupportedFeatures) }), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Equal(tc.a, tc.b); got != tc.want {
				t.Errorf("Equal = %v, want %v", got, tc.want)
			}
			if got := Equal(tc.b, tc.a); got != tc.want {
				t.Errorf("Equal reversed = %v, want %v", got, tc.want)
			}
		})
	}
}

// leaf is one scalar of a dcs.Task, found by reflection, with the JSON path
// Fields is expected to give it.
type leaf struct {
	path string
	v    reflect.Value
}

// fullTask builds a Task with every pointer and slice populated and every
// string set to a distinct value, and returns its scalars.
func fullTask(t *testing.T) (*dcs.Task, []leaf) {
	t.Helper()
	task := &dcs.Task{}
	var leaves []leaf
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
			walk(v.Elem(), path)
		case reflect.Struct:
			for i := range v.NumField() {
				name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
				p := name
				if path != "" {
					p = path + "." + name
				}
				walk(v.Field(i), p)
			}
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
			if v.Type().Elem().Kind() == reflect.String {
				walk(v.Index(0), path) // joined into one field
			} else {
				walk(v.Index(0), path+"[0]")
			}
		case reflect.String:
			v.SetString("v" + strconv.Itoa(len(leaves)))
			leaves = append(leaves, leaf{path, v})
		case reflect.Bool:
			leaves = append(leaves, leaf{path, v})
		default:
			t.Fatalf("%s: dcs.Task has a %s field; teach Fields, Equal and this test about it", path, v.Kind())
		}
	}
	walk(reflect.ValueOf(task).Elem(), "")
	return task, leaves
}

// TestEveryFieldIsSeen catches a field added to dcs.Task but forgotten in
// Fields or Equal: changing any one scalar must make the tasks unequal and
// show up as exactly that change, under its JSON path.
func TestEveryFieldIsSeen(t *testing.T) {
	base, leaves := fullTask(t)
	flat := fields(base)
	if len(flat) != len(leaves) {
		t.Errorf("Fields has %d entries, dcs.Task has %d scalars", len(flat), len(leaves))
	}
	for i, l := range leaves {
		t.Run(l.path, func(t *testing.T) {
			if _, ok := flat[l.path]; !ok {
				t.Fatalf("Fields has no %q", l.path)
			}
			curr, cl := fullTask(t)
			old := flat[l.path]
			if cl[i].v.Kind() == reflect.Bool {
				cl[i].v.SetBool(true)
			} else {
				cl[i].v.SetString("changed")
			}
			if Equal(base, curr) {
				t.Fatal("Equal ignores the change")
			}
			changes := fieldChanges(base, curr)
			want := []FieldChange{{Field: l.path, Old: old, New: fields(curr)[l.path]}}
			if !reflect.DeepEqual(changes, want) {
				t.Fatalf("changes = %v, want %v", changes, want)
			}
			events := Diff(base, curr)
			if l.path == "updated_at" {
				if len(events) != 0 {
					t.Errorf("updated_at alone made %v", kinds(events))
				}
			} else if len(events) == 0 {
				t.Error("no event")
			}
		})
	}
}

func TestFields(t *testing.T) {
	task := with(onlineTask(), func(t *dcs.Task) {
		t.BackupFiles = &dcs.BackupFiles{BucketName: "b", Files: []dcs.BackupFile{{Name: "x.rdb", Size: "1"}, {Name: "y.rdb", Size: "2048"}}}
		t.Target.PasswordSet = false
	})
	f := fields(task)
	want := map[string]string{
		"status":                       "RUNNING",
		"task_status":                  "",
		"source_instance.task_status":  "RUNNING",
		"source_instance.password_set": "true",
		"target_instance.password_set": "false",
		"supported_features":           "bandwidth_limit,resume",
		"backup_files.bucket_name":     "b",
		"backup_files.files[1].size":   "2048",
	}
	for k, v := range want {
		t.Run(k, func(t *testing.T) {
			got, ok := f[k]
			if !ok || got != v {
				t.Errorf("Fields[%q] = %q (present %v), want %q", k, got, ok, v)
			}
		})
	}
	if len(fields(nil)) != 0 {
		t.Errorf("fields(nil) = %v, want empty", fields(nil))
	}
}

// TestDiffExampleResponse starts from the example 200 response of
// "Querying Details of a Data Migration Task", passwords included.
func TestDiffExampleResponse(t *testing.T) {
	exampleResponse, err := os.ReadFile("../dcs/testdata/example-response.json")
	if err != nil {
		t.Fatal(err)
	}
	var prev dcs.Task
	if err := json.Unmarshal(exampleResponse, &prev); err != nil {
		t.Fatal(err)
	}
	prev.Source.PasswordSet, prev.Target.PasswordSet = true, true
	curr := with(&prev, func(t *dcs.Task) {
		t.Status, t.Target.TaskStatus, t.UpdatedAt = "TERMINATED", "TERMINATED", "2019/10/22 18:05:00"
	})

	events := Diff(&prev, curr)
	want := []string{"status_changed", "task_status_changed/target_instance"}
	if got := kinds(events); !slices.Equal(got, want) {
		t.Fatalf("kinds = %v, want %v", got, want)
	}
	wantChanges := []FieldChange{
		{Field: "status", Old: "TERMINATING", New: "TERMINATED"},
		{Field: "target_instance.task_status", Old: "RUNNING", New: "TERMINATED"},
		{Field: "updated_at", Old: "2019/10/22 18:00:00", New: "2019/10/22 18:05:00"},
	}
	if !reflect.DeepEqual(events[0].Changes, wantChanges) {
		t.Errorf("changes = %v, want %v", events[0].Changes, wantChanges)
	}
	checkEvents(t, events, &prev, curr)
	if events[0].TaskID != "a276c1ffa0a54c2597fc824b917db317" {
		t.Errorf("task id = %q", events[0].TaskID)
	}
	out, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "DCStest123") {
		t.Error("an event holds the Redis password of the example response")
	}
	if !strings.Contains(string(out), `"password_set":true`) {
		t.Error("events lost the password_set flag")
	}
}

func TestDiffIDs(t *testing.T) {
	prev := onlineTask()
	curr := with(prev, func(t *dcs.Task) { t.Status, t.UpdatedAt = "FULLMIGRATING", t2 })

	t.Run("same change detected twice", func(t *testing.T) {
		a, b := Diff(prev, curr), Diff(clone(prev), clone(curr))
		if a[0].ID != b[0].ID {
			t.Errorf("ids %s and %s differ for the same change", a[0].ID, b[0].ID)
		}
	})
	t.Run("nil and empty slices give the same id", func(t *testing.T) {
		empty := with(curr, func(t *dcs.Task) { t.BackupFiles = &dcs.BackupFiles{} })
		if a, b := Diff(prev, curr)[0].ID, Diff(prev, empty)[0].ID; a != b {
			t.Errorf("ids %s and %s differ", a, b)
		}
	})
	t.Run("different kinds, scopes and contents", func(t *testing.T) {
		both := with(prev, func(t *dcs.Task) { t.Source.TaskStatus, t.Target.TaskStatus = "EXCHANGING", "EXCHANGING" })
		var events []Event
		events = append(events, Diff(nil, curr)...)
		events = append(events, Diff(prev, curr)...)
		events = append(events, Diff(prev, both)...)
		events = append(events, Diff(prev, with(curr, func(t *dcs.Task) { t.Status = "MIGRATING" }))...)
		events = append(events, Diff(prev, with(curr, func(t *dcs.Task) { t.ID = "other" }))...)
		events = append(events, RemovedEvent(curr))
		assertDistinct(t, events)
	})
	t.Run("A to B, back, and again", func(t *testing.T) {
		a1 := prev
		b1 := with(a1, func(t *dcs.Task) { t.BandwidthLimitMB, t.UpdatedAt = "50", "10:01" })
		a2 := with(b1, func(t *dcs.Task) { t.BandwidthLimitMB, t.UpdatedAt = "100", "10:02" })
		b2 := with(a2, func(t *dcs.Task) { t.BandwidthLimitMB, t.UpdatedAt = "50", "10:03" })
		first, second := Diff(a1, b1)[0].ID, Diff(a2, b2)[0].ID
		if first == second {
			t.Errorf("the two A->B changes share id %s although their snapshots differ", first)
		}
		// Documented limit: byte-identical snapshots share an id.
		if again := Diff(clone(a1), clone(b1))[0].ID; again != first {
			t.Errorf("identical snapshots got ids %s and %s", first, again)
		}
	})
}

func assertDistinct(t *testing.T, events []Event) {
	t.Helper()
	seen := map[string]string{}
	for _, e := range events {
		label := string(e.Kind) + "/" + e.Scope + "/" + e.TaskID
		if !idPattern.MatchString(e.ID) {
			t.Errorf("%s: id %q is not 32 hex digits", label, e.ID)
		}
		if other, dup := seen[e.ID]; dup {
			t.Errorf("%s and %s share id %s", label, other, e.ID)
		}
		seen[e.ID] = label
	}
}

// TestEventIDParts changes one input of eventID at a time; the last two
// cases would collide without length prefixes ("1"+"0" == ""+"10").
func TestEventIDParts(t *testing.T) {
	task := onlineTask()
	other := with(task, func(t *dcs.Task) { t.UpdatedAt = t2 })
	type args struct {
		kind          Kind
		taskID, scope string
		prev, curr    *dcs.Task
		class         string
		seq           uint64
	}
	base := args{WatchDegraded, "t", "", task, task, "auth", 1}
	tests := []struct {
		name string
		mod  func(*args)
	}{
		{"base", func(*args) {}},
		{"kind", func(a *args) { a.kind = WatchRecovered }},
		{"task id", func(a *args) { a.taskID = "u" }},
		{"scope", func(a *args) { a.scope = ScopeSource }},
		{"prev", func(a *args) { a.prev = other }},
		{"curr", func(a *args) { a.curr = other }},
		{"prev nil", func(a *args) { a.prev = nil }},
		{"curr nil", func(a *args) { a.curr = nil }},
		{"class", func(a *args) { a.class = "throttled" }},
		{"seq", func(a *args) { a.seq = 2 }},
		{"class 1 seq 0", func(a *args) { a.class, a.seq = "1", 0 }},
		{"class empty seq 10", func(a *args) { a.class, a.seq = "", 10 }},
	}
	seen := map[string]string{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := base
			tc.mod(&a)
			id := eventID(a.kind, a.taskID, a.scope, canonicalJSON(a.prev), canonicalJSON(a.curr), a.class, a.seq)
			if again := eventID(a.kind, a.taskID, a.scope, canonicalJSON(clone(a.prev)), canonicalJSON(clone(a.curr)), a.class, a.seq); again != id {
				t.Errorf("not deterministic: %s then %s", id, again)
			}
			if prior, dup := seen[id]; dup {
				t.Errorf("same id as %q", prior)
			}
			seen[id] = tc.name
		})
	}
}

// TestEventIDGolden pins the id scheme: JetStream deduplicates across a
// restart only if the new binary computes the ids the old one did. Change
// this value only together with idScheme.
func TestEventIDGolden(t *testing.T) {
	e := Diff(nil, &dcs.Task{ID: "a276c1ffa0a54c2597fc824b917db317", Status: "RUNNING"})[0]
	const want = "ceb232f502f0c786705c6cdb5b37272a"
	if e.ID != want {
		t.Errorf("id = %s, want %s", e.ID, want)
	}
}

// TestEventIDAt: the final id tells a genuine repeat (a later revision)
// from a re-detection (the same revision), and one project from another.
func TestEventIDAt(t *testing.T) {
	a := onlineTask()
	b := with(a, func(t *dcs.Task) { t.Status = "FULLMIGRATING" })
	ev := Diff(a, b)[0]
	first := ev.At("p1", 7)
	if again := Diff(clone(a), clone(b))[0].At("p1", 7); again.ID != first.ID {
		t.Errorf("re-detection at the same revision: %s, then %s", first.ID, again.ID)
	}
	if repeat := ev.At("p1", 9); repeat.ID == first.ID {
		t.Errorf("a repeat of the same change at a later revision kept id %s", first.ID)
	}
	if other := ev.At("p2", 7); other.ID == first.ID {
		t.Errorf("two projects share id %s", first.ID)
	}
	api1 := Degraded("", "throttled", "", nil, 1).At("p1", 3)
	api2 := Degraded("", "throttled", "", nil, 1).At("p2", 3)
	if api1.ID == api2.ID {
		t.Errorf("two projects' API outages share id %s", api1.ID)
	}
	if !idPattern.MatchString(first.ID) {
		t.Errorf("id %q is not 32 hex digits", first.ID)
	}
	// Pinned: JetStream deduplicates across a restart only if the new
	// binary stamps the ids the old one did.
	golden := Diff(nil, &dcs.Task{ID: "a276c1ffa0a54c2597fc824b917db317", Status: "RUNNING"})[0].At("p", 1)
	if golden.ID != "5002e4f2804758377a480a2b25486a43" {
		t.Errorf("stamped id = %s, want 5002e4f2804758377a480a2b25486a43", golden.ID)
	}
}

func TestCopySemantics(t *testing.T) {
	newPair := func() (*dcs.Task, *dcs.Task) {
		prev := with(onlineTask(), func(t *dcs.Task) {
			t.BackupFiles = &dcs.BackupFiles{Files: []dcs.BackupFile{{Name: "a.rdb", Size: "1"}}}
		})
		return prev, with(prev, func(t *dcs.Task) { t.Status, t.Target.TaskStatus = "FULLMIGRATING", "EXCHANGING" })
	}
	scribble := func(t *dcs.Task) {
		t.Status = "SCRIBBLED"
		t.Source.TaskStatus = "SCRIBBLED"
		t.SupportedFeatures[0] = "SCRIBBLED"
		t.BackupFiles.Files[0].Size = "SCRIBBLED"
	}
	// parts renders every snapshot and change list of the events separately,
	// so that a scribble shows exactly where it landed.
	parts := func(events []Event) []string {
		var out []string
		for _, e := range events {
			for _, v := range []any{e.Prev, e.Curr, e.Changes} {
				b, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, string(b))
			}
		}
		return out
	}
	tests := []struct {
		name   string
		events func(prev, curr *dcs.Task) []Event
	}{
		{"diff", func(p, c *dcs.Task) []Event { return Diff(p, c) }},
		{"discovered", func(_, c *dcs.Task) []Event { return Diff(nil, c) }},
		{"removed", func(p, _ *dcs.Task) []Event { return []Event{RemovedEvent(p)} }},
		{"degraded", func(p, _ *dcs.Task) []Event { return []Event{Degraded(p.ID, "auth", "401", p, 1)} }},
		{"recovered", func(p, _ *dcs.Task) []Event { return []Event{Recovered(p.ID, "auth", p, 1)} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev, curr := newPair()
			events := tc.events(prev, curr)
			before := parts(events)

			scribble(prev)
			scribble(curr)
			if after := parts(events); !slices.Equal(after, before) {
				t.Fatalf("changing the caller's tasks changed the events:\nbefore %v\nafter  %v", before, after)
			}

			// A consumer scribbling on one snapshot (the first one present)
			// must not reach any other snapshot or event.
			target := 0
			if events[0].Prev != nil {
				scribble(events[0].Prev)
			} else {
				scribble(events[0].Curr)
				target = 1
			}
			if len(events[0].Changes) > 0 {
				events[0].Changes[0].New = "SCRIBBLED"
			}
			after := parts(events)
			for i := range after {
				touched := i == target || (i == 2 && len(events[0].Changes) > 0)
				if !touched && after[i] != before[i] {
					t.Errorf("part %d changed through another event's snapshot: %s", i, after[i])
				}
			}
		})
	}
}

func TestRemovedEvent(t *testing.T) {
	prev := onlineTask()
	e := RemovedEvent(prev)
	if e.Kind != Removed || e.TaskID != prev.ID || e.Curr != nil || !reflect.DeepEqual(e.Prev, prev) {
		t.Errorf("RemovedEvent = %+v", e)
	}
	if e.Prev == prev {
		t.Error("Prev is the caller's pointer, not a copy")
	}
	if !idPattern.MatchString(e.ID) || e.ID == Diff(nil, prev)[0].ID {
		t.Errorf("id %q is malformed or equals the discovered id", e.ID)
	}
}

func TestDegradedRecovered(t *testing.T) {
	last := onlineTask()
	base := Degraded(last.ID, "throttled", "APIGW.0308 request_id=1", last, 7)

	t.Run("fields", func(t *testing.T) {
		if base.Kind != WatchDegraded || base.TaskID != last.ID || base.Reason != "throttled: APIGW.0308 request_id=1" {
			t.Errorf("Degraded = kind %s, task %q, reason %q", base.Kind, base.TaskID, base.Reason)
		}
		if !reflect.DeepEqual(base.Prev, last) || !reflect.DeepEqual(base.Curr, last) {
			t.Error("Prev and Curr are not the last snapshot")
		}
		r := Recovered(last.ID, "throttled", last, 7)
		if r.Kind != WatchRecovered || r.Reason != "recovered from throttled" || !reflect.DeepEqual(r.Curr, last) {
			t.Errorf("Recovered = kind %s, reason %q", r.Kind, r.Reason)
		}
		api := Degraded("", "auth", "", nil, 1)
		if api.TaskID != "" || api.Prev != nil || api.Curr != nil || api.Reason != "auth" {
			t.Errorf("API-wide Degraded = %+v", api)
		}
	})

	t.Run("same id whatever the reason", func(t *testing.T) {
		again := Degraded(last.ID, "throttled", "APIGW.0308 request_id=2", clone(last), 7)
		if again.ID != base.ID {
			t.Errorf("ids %s and %s differ by reason text only", base.ID, again.ID)
		}
	})

	t.Run("distinct ids", func(t *testing.T) {
		assertDistinct(t, []Event{
			base,
			Degraded(last.ID, "throttled", "x", last, 8), // next episode
			Degraded(last.ID, "auth", "x", last, 7),      // other class
			Degraded("other", "throttled", "x", last, 7), // other task
			Degraded("", "throttled", "x", last, 7),      // the API as a whole
			Degraded(last.ID, "throttled", "x", nil, 7),  // no snapshot
			Recovered(last.ID, "throttled", last, 7),     // end of the episode
			Recovered(last.ID, "throttled", last, 8),     // end of the next one
			Degraded(last.ID, "throttled", "x", with(last, func(t *dcs.Task) { t.UpdatedAt = t2 }), 7),
		})
	})
}

// FuzzDiff builds two tasks from fuzzed fields and checks what must hold for
// any input: no panic, deterministic ids, nothing from a task compared with
// itself, and the event rules.
func FuzzDiff(f *testing.F) {
	f.Add("RUNNING", "", "RUNNING", "RUNNING", t1, "100", "a,b", "1", "FULLMIGRATING", "", "RUNNING", "RUNNING", t2, "100", "a,b", "1")
	f.Add("INCRMIGEATING", "", "", "", t1, "", "", "", "INCRMIGRATING", "", "", "", t1, "", "", "")
	f.Add("TERMINATING", "EXCHANGING", "RUNNING", "RUNNING", t1, "1", "", "", "TERMINATED", "", "EXCHANGING", "", t2, "2", "x", "5")
	f.Add("", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T,
		pStatus, pTask, pSrc, pTgt, pUpd, pBW, pFeat, pSize,
		cStatus, cTask, cSrc, cTgt, cUpd, cBW, cFeat, cSize string) {
		build := func(status, task, src, tgt, upd, bw, feat, size string) *dcs.Task {
			x := onlineTask()
			x.Status, x.TaskStatus, x.UpdatedAt, x.BandwidthLimitMB = status, task, upd, bw
			x.Source.TaskStatus, x.Target.TaskStatus = src, tgt
			if feat != "" {
				x.SupportedFeatures = strings.Split(feat, ",")
			}
			if size != "" {
				x.BackupFiles = &dcs.BackupFiles{Files: []dcs.BackupFile{{Name: "f", Size: size}}}
			}
			return x
		}
		prev := build(pStatus, pTask, pSrc, pTgt, pUpd, pBW, pFeat, pSize)
		curr := build(cStatus, cTask, cSrc, cTgt, cUpd, cBW, cFeat, cSize)

		for _, x := range []*dcs.Task{prev, curr} {
			if events := Diff(x, clone(x)); len(events) != 0 {
				t.Fatalf("Diff(x, x) = %v", kinds(events))
			}
		}
		events := Diff(prev, curr)
		again := Diff(clone(prev), clone(curr))
		if len(events) != len(again) {
			t.Fatalf("Diff is not deterministic: %v then %v", kinds(events), kinds(again))
		}
		for i := range events {
			if events[i].ID != again[i].ID {
				t.Fatalf("event %d: id %s then %s", i, events[i].ID, again[i].ID)
			}
		}
		if Equal(prev, curr) && len(events) != 0 {
			t.Fatalf("equal tasks made %v", kinds(events))
		}
		statusChanged := dcs.Normalize(pStatus) != dcs.Normalize(cStatus)
		if got := len(events) > 0 && events[0].Kind == StatusChanged; got != statusChanged {
			t.Fatalf("status %q -> %q: status_changed = %v, want %v", pStatus, cStatus, got, statusChanged)
		}
		order := map[Kind]int{StatusChanged: 0, TaskStatusChanged: 1, Changed: 2}
		for i, e := range events {
			if i > 0 && order[e.Kind] < order[events[i-1].Kind] {
				t.Fatalf("events out of order: %v", kinds(events))
			}
			if e.Kind == Changed && i > 0 {
				t.Fatalf("changed fired besides another event: %v", kinds(events))
			}
			if !slices.IsSortedFunc(e.Changes, func(a, b FieldChange) int { return strings.Compare(a.Field, b.Field) }) {
				t.Fatalf("changes not sorted: %v", e.Changes)
			}
			for _, c := range e.Changes {
				if c.Old == c.New {
					t.Fatalf("change without a difference: %v", c)
				}
			}
		}
		checkEvents(t, events, prev, curr)
	})
}

// BenchmarkEqual is the cost of a poll that finds nothing new.
func BenchmarkEqual(b *testing.B) {
	prev, curr := onlineTask(), onlineTask()
	b.ReportAllocs()
	for b.Loop() {
		if !Equal(prev, curr) {
			b.Fatal("not equal")
		}
	}
}

// BenchmarkDiffUpdatedAtOnly is the cost of a poll of an active task whose
// updated_at moved: flattening, no event.
func BenchmarkDiffUpdatedAtOnly(b *testing.B) {
	prev := onlineTask()
	curr := with(prev, func(t *dcs.Task) { t.UpdatedAt = t2 })
	b.ReportAllocs()
	for b.Loop() {
		if len(Diff(prev, curr)) != 0 {
			b.Fatal("event")
		}
	}
}

// BenchmarkDiffStatusChanged is the cost of a change that makes events.
func BenchmarkDiffStatusChanged(b *testing.B) {
	prev := onlineTask()
	curr := with(prev, func(t *dcs.Task) { t.Status, t.Target.TaskStatus, t.UpdatedAt = "FULLMIGRATING", "", t2 })
	b.ReportAllocs()
	for b.Loop() {
		if len(Diff(prev, curr)) != 2 {
			b.Fatal("want two events")
		}
	}
}
