package dcs_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/sim"
)

// BenchmarkShow is one detail call end to end over loopback: signing, the
// simulator's answer (and its signature check), reading and decoding.
func BenchmarkShow(b *testing.B) {
	const project = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	sc := &sim.Scenario{ProjectID: project}
	for i := range 1000 {
		sc.Tasks = append(sc.Tasks, sim.TaskSpec{
			ID: fmt.Sprintf("task-%04d", i), Name: fmt.Sprintf("svc-%d", i),
			Source: &sim.InstanceSpec{Name: "src", Addrs: "10.0.0.1:6379", Port: "6379", Password: "pw-source"},
			Target: &sim.InstanceSpec{Name: "dst", Addrs: "10.0.0.2:6379", Port: "6379", Password: "pw-target"},
			Steps:  []sim.Step{{Status: new("INCRMIGEATING")}},
		})
	}
	srv := httptest.NewServer(sim.New(sc, sim.Options{AK: "bench-ak", SK: "bench-sk"}))
	defer srv.Close()
	c, err := dcs.New(dcs.Options{
		Endpoint: srv.URL, ProjectID: project,
		Credentials: dcs.Credentials{AK: secret.Secret("bench-ak"), SK: secret.Secret("bench-sk")},
		HTTPClient:  &http.Client{},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, _, err := c.Show(ctx, fmt.Sprintf("task-%04d", i%1000)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
