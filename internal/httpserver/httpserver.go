// Package httpserver serves the watcher's operational endpoints on
// http.listen: /metrics (Prometheus text format from the watcher's own
// registry), /healthz (the process is up and not stuck), /readyz (NATS
// connected, the store writing and a recent successful cycle) and, only when asked for, /debug/pprof/. It is
// separate from the app so that it outlives reloads.
package httpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure the handler.
type Options struct {
	Registry *prometheus.Registry
	// Ready returns nil when ready, else why not (shown in the body).
	Ready func() error
	// Live returns nil while the process is healthy, else why it should be
	// restarted (shown in the body); nil: always healthy.
	Live func() error
	// PProf mounts /debug/pprof/: profiles reveal internals and cost CPU,
	// so they are off unless http.pprof is true.
	PProf bool
	// StatusPage, when set, serves every other path (/, /tasks/...,
	// /api/..., /events, /static/...).
	StatusPage http.Handler
	// Users, when set, ask every path but /healthz and /readyz (the
	// orchestrator's probes) for basic auth.
	Users Users
}

// Handler returns the mux of the operational endpoints.
func Handler(o Options) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if o.Live != nil {
			if err := o.Live(); err != nil {
				http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := o.Ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if o.PProf {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	if o.StatusPage != nil {
		mux.Handle("/", o.StatusPage)
	}
	if len(o.Users) > 0 {
		return basicAuth(o.Users, map[string]bool{"/healthz": true, "/readyz": true}, mux)
	}
	return mux
}

// Server is the running HTTP server.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
	// stop ends the requests' base context: the status page's event
	// streams end at Close instead of holding the shutdown.
	stop context.CancelFunc
}

// TLSFiles are a certificate and its key (PEM); empty: plain HTTP.
type TLSFiles struct {
	CertFile, KeyFile string
}

// Start listens on addr and serves h until Close, over TLS when tls names
// its files (read now, so that a bad pair fails here).
func Start(addr string, h http.Handler, tlsFiles TLSFiles) (*Server, error) {
	var cfg *tls.Config
	if tlsFiles.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(tlsFiles.CertFile, tlsFiles.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("http: TLS certificate %s and key %s: %w", tlsFiles.CertFile, tlsFiles.KeyFile, err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http: listen on %s: %w", addr, err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	base, stop := context.WithCancel(context.Background())
	s := &Server{
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute,
			BaseContext: func(net.Listener) context.Context { return base }},
		ln:   ln,
		done: make(chan error, 1),
		stop: stop,
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// Addr is the address the server listens on (port 0 resolved).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, letting requests in flight finish for up to 5 s.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.stop()
	err := s.srv.Shutdown(ctx)
	return errors.Join(err, <-s.done)
}
