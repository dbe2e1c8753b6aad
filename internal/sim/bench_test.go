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

func BenchmarkNew100k(b *testing.B) {
	sc := generated(100_000)
	for b.Loop() {
		_ = sim.New(sc, sim.Options{})
	}
}
