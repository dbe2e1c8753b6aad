package heartbeat

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

const token = "SECRET-TOKEN-123"

// TestPingNeverLogsItsURL: a ping URL with a token in its path, against a
// monitor that answers 404 echoing the URL, one that never answers, a
// redirect loop back to the URL and a port nothing listens on. The token
// is in no log line and no error; each failure is logged once however
// often it repeats, and its end once.
func TestPingNeverLogsItsURL(t *testing.T) {
	type target struct {
		name string
		url  func(t *testing.T, healthy *atomic.Bool) string
		want string // in the failure's log line
	}
	serve := func(t *testing.T, fail http.HandlerFunc, healthy *atomic.Bool) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if healthy.Load() {
				fmt.Fprintln(w, "OK")
				return
			}
			fail(w, r)
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/ping/" + token
	}
	targets := []target{
		{"404 echoing the URL", func(t *testing.T, healthy *atomic.Bool) string {
			return serve(t, func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "no check at "+r.URL.String()+" "+token, http.StatusNotFound)
			}, healthy)
		}, `"http_status":404`},
		{"no answer", func(t *testing.T, healthy *atomic.Bool) string {
			return serve(t, func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done() // held until the pinger gives up
			}, healthy)
		}, "Client.Timeout exceeded"},
		{"redirect loop", func(t *testing.T, healthy *atomic.Bool) string {
			return serve(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.String(), http.StatusFound)
			}, healthy)
		}, "stopped after 10 redirects"},
		{"nothing listens", func(t *testing.T, healthy *atomic.Bool) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			return "http://" + addr + "/ping/" + token
		}, "connection refused"},
	}
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			var healthy atomic.Bool
			raw := tc.url(t, &healthy)
			var logs testutil.SyncBuffer
			p := NewPinger(secret.Secret(raw), 300*time.Millisecond, zerolog.New(&logs))
			ctx := testutil.Context(t, 30*time.Second)
			for i := range 3 {
				err := p.Ping(ctx)
				if err == nil {
					t.Fatalf("ping %d succeeded against a failing monitor", i+1)
				}
				if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "/ping/") {
					t.Errorf("ping error holds the URL: %v", err)
				}
			}
			if tc.name == "nothing listens" {
				ln, err := net.Listen("tcp", strings.TrimPrefix(strings.TrimSuffix(raw, "/ping/"+token), "http://"))
				if err != nil {
					t.Skipf("the port was taken meanwhile, recovery not checked: %v", err)
				}
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "OK") })}
				go func() { _ = srv.Serve(ln) }()
				t.Cleanup(func() { _ = srv.Close() })
			}
			healthy.Store(true)
			for i := range 2 {
				if err := p.Ping(ctx); err != nil {
					t.Fatalf("ping %d against a healthy monitor: %v", i+1, err)
				}
			}
			out := logs.String()
			if strings.Contains(out, token) || strings.Contains(out, "/ping/") {
				t.Errorf("logs hold the ping URL:\n%s", out)
			}
			if n := strings.Count(out, "heartbeat ping failed"); n != 1 {
				t.Errorf("failure logged %d times over 3 failed pings, want once:\n%s", n, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("failure's log line lacks %q (its cause):\n%s", tc.want, out)
			}
			if n := strings.Count(out, "heartbeat ping recovered"); n != 1 {
				t.Errorf("recovery logged %d times over 2 good pings, want once:\n%s", n, out)
			}
			if n := strings.Count(out, "\n"); n != 2 {
				t.Errorf("%d log lines, want 2 (the failure, the recovery):\n%s", n, out)
			}
		})
	}
}

// TestPingCancelledIsNoNews: a ping cut short by shutdown is not logged as
// a failing monitor.
func TestPingCancelledIsNoNews(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(srv.Close)
	var logs testutil.SyncBuffer
	p := NewPinger(secret.Secret(srv.URL+"/ping/"+token), time.Minute, zerolog.New(&logs))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Ping(ctx); err == nil {
		t.Fatal("a cancelled ping succeeded")
	}
	if logs.String() != "" {
		t.Errorf("a cancelled ping was logged:\n%s", logs.String())
	}
}
