package dcs_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/sim"
)

// TestTransportReusesConnections: with Transport(n), n calls in flight at
// a time share n keep-alive connections instead of dialling one per call
// (the default transport keeps only two idle per host).
func TestTransportReusesConnections(t *testing.T) {
	const project, workers, calls = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", 8, 300
	sc := &sim.Scenario{ProjectID: project, Tasks: []sim.TaskSpec{{ID: "task-1", Steps: []sim.Step{{Status: new("MIGRATING")}}}}}
	srv := httptest.NewUnstartedServer(sim.New(sc, sim.Options{AK: "ak", SK: "sk"}))
	var dialled atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialled.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := dcs.New(dcs.Options{
		Endpoint: srv.URL, ProjectID: project,
		Credentials: dcs.Credentials{AK: secret.Secret("ak"), SK: secret.Secret("sk")},
		HTTPClient:  &http.Client{Transport: dcs.Transport(workers)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range calls {
				if _, _, err := c.Show(context.Background(), "task-1"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := dialled.Load(); got > 2*workers {
		t.Errorf("%d calls by %d workers opened %d connections, want at most %d (a few more than the workers: at start they dial at once)", workers*calls, workers, got, 2*workers)
	}
}
