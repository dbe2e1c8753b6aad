package dcs_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/sim"
)

// TestListPagesAhead: fetching the announced pages ahead gives the same
// list, in the same order, for the same number of calls as one page after
// another.
func TestListPagesAhead(t *testing.T) {
	const project, n = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", 3500
	sc := &sim.Scenario{ProjectID: project}
	for i := range n {
		sc.Tasks = append(sc.Tasks, sim.TaskSpec{ID: fmt.Sprintf("task-%05d", i), Steps: []sim.Step{{Status: new("MIGRATING")}}})
	}
	s := sim.New(sc, sim.Options{AK: "ak", SK: "sk"})
	srv := httptest.NewServer(s)
	defer srv.Close()
	list := func(conc int) []*dcs.Task {
		t.Helper()
		c, err := dcs.New(dcs.Options{
			Endpoint: srv.URL, ProjectID: project, ListConcurrency: conc,
			Credentials: dcs.Credentials{AK: secret.Secret("ak"), SK: secret.Secret("sk")},
		})
		if err != nil {
			t.Fatal(err)
		}
		before := s.Calls().List
		rows, err := c.List(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Calls().List - before; got != 4 {
			t.Errorf("concurrency %d: %d list calls for %d tasks, want 4", conc, got, n)
		}
		return rows
	}
	one, four := list(1), list(4)
	if len(one) != n {
		t.Fatalf("listed %d tasks, want %d", len(one), n)
	}
	if !reflect.DeepEqual(one, four) {
		t.Error("the list fetched ahead differs from the list fetched page by page")
	}
}

// TestListPageAheadFails: a page fetched ahead that fails fails the list,
// naming the page, as a page fetched in turn does.
func TestListPageAheadFails(t *testing.T) {
	const project, n = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", 3500
	sc := &sim.Scenario{ProjectID: project}
	for i := range n {
		sc.Tasks = append(sc.Tasks, sim.TaskSpec{ID: fmt.Sprintf("task-%05d", i), Steps: []sim.Step{{Status: new("MIGRATING")}}})
	}
	s := sim.New(sc, sim.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("offset") == "2000" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error_code":"DCS.5000","error_msg":"Internal error."}`)
			return
		}
		s.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := dcs.New(dcs.Options{Endpoint: srv.URL, ProjectID: project, ListConcurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(context.Background(), "")
	if !errors.Is(err, dcs.ErrRetryable) || !strings.Contains(err.Error(), "list page 3") {
		t.Fatalf("List = %v, want a retryable error naming page 3", err)
	}
}
