package sim_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
)

// Serve answers until its context ends, then shuts down: a request held by
// a slow fault is answered 503 instead of being left hanging, and the
// listener is closed.
func TestServeShutsDownOnCancel(t *testing.T) {
	c := newClock()
	srv := sim.New(faultScenario(t, "{at: 10s, for: 2s, kind: slow, delay: 1h, task: "+orders+"}"), sim.Options{Clock: c.Now, Start: testStart})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(base + listPath(""))
	if err != nil {
		t.Fatalf("list before shutdown: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list before shutdown: %d", resp.StatusCode)
	}

	c.at(11 * time.Second)
	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := client.Get(base + detailPath(orders))
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		slow <- result{status: resp.StatusCode, body: string(b)}
	}()
	// Wait until the slow request is being held by the server.
	deadline := time.Now().Add(5 * time.Second)
	for srv.Calls().Faults == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slow request never reached the server")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()

	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve returned %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within 5 s of cancel")
	}
	r := <-slow
	if r.err != nil || r.status != http.StatusServiceUnavailable {
		t.Errorf("request in flight at shutdown: %d %s %v, want 503", r.status, r.body, r.err)
	}
	if conn, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		conn.Close()
		t.Error("the listener still accepts connections after shutdown")
	}
}
