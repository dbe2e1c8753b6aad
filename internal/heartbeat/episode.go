package heartbeat

import "sync"

// Episode tells a run of failures apart from each failure in it, so that a
// failure is logged when it starts and once more when it ends, not every
// time: Fail reports whether err opens an episode, OK whether one closed.
type Episode struct {
	mu      sync.Mutex
	failing bool
}

// Fail records a failure; true when the previous attempt succeeded.
func (e *Episode) Fail() (first bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	first, e.failing = !e.failing, true
	return first
}

// OK records a success; true when it ends an episode of failures.
func (e *Episode) OK() (recovered bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	recovered, e.failing = e.failing, false
	return recovered
}
