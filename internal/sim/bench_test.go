package sim_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dcs-watcher/watcher/internal/sim"
)

// The handler's own cost at fleet scale (no network): a detail call is a
// map lookup, a list page a slice of the presorted fleet.
func BenchmarkHandler100k(b *testing.B) {
	srv := sim.New(generated(100_000), sim.Options{})
	for _, bc := range []struct{ name, path string }{
		{"detail", detailPath("task-54321")},
		{"list-1000", listPath("?offset=50000&limit=1000")},
		{"stats", detailPath("task-54321") + "/stats"},
		{"logs", detailPath("task-54321") + "/logs?log_level=ERROR"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, bc.path, nil)
			for b.Loop() {
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", bc.path, w.Code, w.Body)
				}
			}
		})
	}
}

// A generated fleet's stats and logs calls, progress and logs folded from
// its steps.
func BenchmarkFleetProgress(b *testing.B) {
	o := sim.FleetOptions{Tasks: 10_000, Seed: 1, ProjectID: project, BurstTasks: 100, BurstAt: 1, BurstStatus: "FAILED"}
	sc := sim.Fleet(o)
	srv := sim.New(sc, sim.Options{})
	id := sc.StatusChanges()[0].TaskID
	for _, call := range []string{"stats", "logs"} {
		path := detailPath(id) + "/" + call
		b.Run(call, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			for b.Loop() {
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", path, w.Code, w.Body)
				}
			}
		})
	}
}

func BenchmarkNew100k(b *testing.B) {
	sc := generated(100_000)
	for b.Loop() {
		_ = sim.New(sc, sim.Options{})
	}
}
