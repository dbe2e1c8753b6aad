package dcs

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestLimiterPacesEveryCall: with the budget spent, a call that cannot get
// a token before its deadline never reaches the API, and fails as a
// retryable error that says why; list pages count one call each.
func TestLimiterPacesEveryCall(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"count": 2500, "migration_tasks": [{"task_id": "t-` + r.URL.Query().Get("offset") + `"}]}`))
	}))
	defer srv.Close()
	c, err := New(Options{Endpoint: srv.URL, ProjectID: "p1",
		Limiter: rate.NewLimiter(rate.Every(time.Hour), 2)}) // two calls, then one an hour
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err = c.List(ctx, "") // three pages, only two tokens
	if err == nil {
		t.Fatal("List with a budget of two calls for three pages succeeded")
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("%d calls reached the API, want 2 (the budget)", got)
	}
	if !errors.Is(err, ErrRetryable) {
		t.Errorf("error %v is not retryable", err)
	}
}
