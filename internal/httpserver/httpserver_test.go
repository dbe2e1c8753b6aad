package httpserver

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestHealthzSaysWhyNotLive: /healthz is 200 while Live says nothing and
// 503 with its reason once it does (a store stuck past recovering by
// itself), so that an orchestrator restarts the process.
func TestHealthzSaysWhyNotLive(t *testing.T) {
	var live error
	srv := httptest.NewServer(Handler(Options{
		Registry: prometheus.NewRegistry(),
		Ready:    func() error { return nil },
		Live:     func() error { return live },
	}))
	defer srv.Close()
	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != http.StatusOK {
		t.Errorf("/healthz = %d %q, want 200", code, body)
	}
	live = errors.New("JetStream store does not write though the data directory /data has had room")
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "has had room") {
		t.Errorf("/healthz = %d %q, want 503 with the reason", code, body)
	}
}
