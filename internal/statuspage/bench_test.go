package statuspage

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/state"
)

// fleetModel fills a model as the watches would with n tasks of a few
// projects, each with its snapshot and perTask events (first sight, then
// status changes); every 50th task failed with a reason, every 70th
// stalled.
func fleetModel(n, perTask int) *Model {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	m := NewModel(Options{Now: func() time.Time { return t0.Add(6 * time.Hour) }})
	statuses := []string{"RUNNING", "FULLMIGRATING", "INCRMIGEATING"}
	for i := range n {
		project := fmt.Sprintf("%032x", i%4+1)
		id := fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", i, i%65536, 0x4000|i%4096, 0x8000|i%4096, i*7919)
		name := fmt.Sprintf("%s-%s-move-%06d", []string{"orders", "carts", "feeds", "catalog"}[i%4], []string{"cache", "queue", "index"}[i%3], i)
		tk := &dcs.Task{ID: id, Name: name, Status: statuses[(perTask-1)%3], MigrationType: "online_migration",
			Source: dcs.Instance{ID: "s" + id, Name: name + "-old", Addrs: fmt.Sprintf("10.%d.%d.%d:6379", i%200, i/200%250, i%250), PasswordSet: true},
			Target: dcs.Instance{ID: "t" + id, Name: name + "-new", Addrs: fmt.Sprintf("10.%d.%d.%d:6379", 1+i%200, i/200%250, i%250), PasswordSet: true}}
		if i%50 == 0 {
			tk.Status, tk.ErrorMessage = "MIGRATION_FAILED", "target instance out of memory during full sync"
		}
		for j := range perTask {
			var e wireEvent
			e.Time = t0.Add(time.Duration(j) * 10 * time.Minute)
			e.Data.Kind, e.Data.ProjectID, e.Data.TaskID, e.Data.TaskName = "status_changed", project, id, name
			if j == 0 {
				e.Data.Kind = "discovered"
			}
			st := statuses[j%3]
			if j == perTask-1 {
				st = tk.Status
			}
			e.Data.CurrentStatus = &notify.StatusInfo{Raw: st, Normalized: st}
			e.Data.Outcome = string(dcs.Status(st).Outcome())
			m.applyEvent(e)
		}
		if i%70 == 0 {
			var e wireEvent
			e.Time = t0.Add(5 * time.Hour)
			e.Data.Kind, e.Data.ProjectID, e.Data.TaskID = string(diff.Stalled), project, id
			e.Data.Attention = &diff.Attention{Condition: "progress_stalled", Episode: 1, Since: e.Time}
			m.applyEvent(e)
		}
		rec := state.Record{Task: tk, StatusSince: t0.Add(time.Duration(perTask-1) * 10 * time.Minute), WrittenAt: t0}
		if i%70 == 0 {
			rec.Attention = []diff.Attention{{Condition: "progress_stalled", Episode: 1}}
		}
		m.applyRecord(state.Key(project, id), rec)
	}
	return m
}

// heapAfterGC is the live heap.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestModelMemory10k: the model of a 10k-task fleet, each task with the
// full ring of 20 recent events (the worst case), holds under 10 MB of
// live heap.
func TestModelMemory10k(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10k-task model")
	}
	for _, perTask := range []int{5, 20} {
		before := heapAfterGC()
		m := fleetModel(10000, perTask)
		after := heapAfterGC()
		mb := float64(after-before) / (1 << 20)
		t.Logf("model of 10000 tasks with %d events each: %.2f MB (%d bytes a task)", perTask, mb, (after-before)/10000)
		if perTask == 20 && mb >= 10 {
			t.Errorf("model of 10k tasks holds %.2f MB, want under 10", mb)
		}
		runtime.KeepAlive(m)
	}
}

// BenchmarkModelMemory10k reports the model's live heap at 10k tasks
// with 20 events each, as bytes a fleet.
func BenchmarkModelMemory10k(b *testing.B) {
	for b.Loop() {
		before := heapAfterGC()
		m := fleetModel(10000, 20)
		b.ReportMetric(float64(heapAfterGC()-before)/(1<<20), "MB/model")
		runtime.KeepAlive(m)
	}
}

// benchServe times one request to the page of a 10k-task model.
func benchServe(b *testing.B, path string) {
	p := NewPage()
	p.Use(fleetModel(10000, 5))
	req := httptest.NewRequest(http.MethodGet, path, nil)
	var size int
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("GET %s = %d", path, rec.Code)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size)/1024, "KiB/resp")
}

func BenchmarkListPage10k(b *testing.B)       { benchServe(b, "/") }
func BenchmarkListPageFailed10k(b *testing.B) { benchServe(b, "/?outcome=failed") }
func BenchmarkListPageSearch10k(b *testing.B) { benchServe(b, "/?q=orders-cache") }
func BenchmarkListPageAll10k(b *testing.B)    { benchServe(b, "/?limit=10000") }
func BenchmarkAPITasks10k(b *testing.B)       { benchServe(b, "/api/tasks") }
func BenchmarkAPITasksFiltered10k(b *testing.B) {
	benchServe(b, "/api/tasks?project=00000000000000000000000000000001&status=FULLMIGRATING")
}
func BenchmarkTaskPage10k(b *testing.B) {
	benchServe(b, "/tasks/00000000000000000000000000000001/00000004-0004-4004-8004-000000007bbc")
}
func BenchmarkAPITask10k(b *testing.B) {
	benchServe(b, "/api/tasks/00000000000000000000000000000001/00000004-0004-4004-8004-000000007bbc")
}
