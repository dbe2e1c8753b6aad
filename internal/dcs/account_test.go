package dcs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// Two projects' clients with one AccountLimiter share its budget: a token
// one spends is gone for the other, while a client with a limiter of its
// own still gets its call. The account's limiter refills in about eleven
// days, so a second call cannot fit its deadline and Wait refuses at once.
func TestAccountLimiterSharedByClients(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte(exampleResponse))
	}))
	defer srv.Close()
	account := rate.NewLimiter(rate.Limit(1e-6), 1)
	client := func(account *rate.Limiter) *Client {
		c, err := New(Options{
			Endpoint: srv.URL, ProjectID: "p1", Credentials: Credentials{AK: testAK, SK: testSK},
			Now: func() time.Time { return testNow }, AccountLimiter: account,
			Limiter: rate.NewLimiter(rate.Inf, 1),
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := client(account).Show(ctx, exampleID); err != nil {
		t.Fatalf("first project's call: %v", err)
	}
	if _, _, err := client(account).Show(ctx, exampleID); err == nil {
		t.Fatal("second project's call went through an account budget already spent")
	}
	if _, _, err := client(rate.NewLimiter(rate.Limit(1e-6), 1)).Show(ctx, exampleID); err != nil {
		t.Fatalf("another account's call: %v", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("the API saw %d calls, want 2", n)
	}
}
