package sim

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"
)

// New prepares a Server for sc. It does not modify sc, which must not change
// afterwards. New does not validate: call Validate first on a scenario built
// in Go (ParseScenario already does); on an invalid one New still returns a
// working server (later duplicates of an id are ignored, steps are sorted).
func New(sc *Scenario, o Options) *Server {
	s := &Server{
		projectID:  sc.ProjectID,
		clock:      o.Clock,
		start:      o.Start,
		byID:       make(map[string]*simTask, len(sc.Tasks)),
		taskFaults: make(map[string][]Fault),
		reqPrefix:  randomHex(8),
	}
	s.keys.Store(&Keys{AK: o.AK, SK: o.SK, SecurityToken: o.SecurityToken, AuthToken: o.AuthToken})
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.start.IsZero() {
		s.start = s.clock()
	}
	pw := make(map[string]bool)
	for i := range sc.Tasks {
		sp := &sc.Tasks[i]
		if _, dup := s.byID[sp.ID]; dup {
			continue
		}
		t := newTask(sp, s.start)
		s.byID[sp.ID] = t
		s.ordered = append(s.ordered, t)
		s.changes = append(s.changes, t.appears)
		s.duration = max(s.duration, t.appears)
		if t.hasRemove {
			s.changes = append(s.changes, t.removed)
			s.duration = max(s.duration, t.removed)
		}
		if n := len(t.steps); n > 0 {
			s.duration = max(s.duration, t.steps[n-1].At)
		}
		for _, in := range []*InstanceSpec{sp.Source, sp.Target} {
			if in != nil && in.Password != "" {
				pw[in.Password] = true
			}
		}
	}
	slices.SortFunc(s.ordered, func(a, b *simTask) int {
		if c := cmpDuration(b.appears, a.appears); c != 0 {
			return c
		}
		return cmp.Compare(a.spec.ID, b.spec.ID)
	})
	slices.Sort(s.changes)
	s.changes = slices.Compact(s.changes)
	for _, f := range sc.Faults {
		if f.Task == "" {
			s.globalFaults = append(s.globalFaults, f)
		} else {
			s.taskFaults[f.Task] = append(s.taskFaults[f.Task], f)
		}
		s.duration = max(s.duration, f.At+f.For)
	}
	for p := range pw {
		s.passwords = append(s.passwords, p)
	}
	slices.Sort(s.passwords)
	return s
}

// ProjectID is the project the server answers for.
func (s *Server) ProjectID() string { return s.projectID }

// Start is the scenario's time zero.
func (s *Server) Start() time.Time { return s.start }

// Duration is the offset of the scenario's last event (step, appearance,
// removal or end of a fault): after it nothing changes any more.
func (s *Server) Duration() time.Duration { return s.duration }

// Passwords returns every Redis password of the scenario, sorted, so that
// leak tests can scan outputs for them.
func (s *Server) Passwords() []string { return slices.Clone(s.passwords) }

// Calls returns the counters so far.
func (s *Server) Calls() Calls {
	return Calls{
		Detail:       s.detailCalls.Load(),
		List:         s.listCalls.Load(),
		Stats:        s.statsCalls.Load(),
		Logs:         s.logsCalls.Load(),
		AuthFailures: s.authFailures.Load(),
		Faults:       s.faults.Load(),
	}
}

// Serve answers on ln until ctx is done, then shuts down gracefully: it
// stops accepting, cancels the requests in flight (a slow fault is waiting
// on its request's context) and waits up to 5 s for them to finish. It
// returns nil after a shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	reqCtx, cancelReqs := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelReqs(errShuttingDown)
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("sim: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	cancelReqs(errShuttingDown)
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("sim: shut down server on %s: %w", ln.Addr(), err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sim: serve on %s: %w", ln.Addr(), err)
	}
	return nil
}

// errShuttingDown is the cause with which Serve cancels requests in flight.
var errShuttingDown = errors.New("sim: server shutting down")

// randomHex returns n random bytes in hex: the request-id prefix that keeps
// ids unique across servers and restarts.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
