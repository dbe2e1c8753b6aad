package heartbeat

import (
	"sync"
	"time"
)

// Cycles remembers, by project, whether its last cycle succeeded and when
// one last did: what the ping and the heartbeat's projects tell.
type Cycles struct {
	mu sync.Mutex
	by map[string]cycle
}

type cycle struct {
	ok     bool
	lastOK time.Time // zero: no cycle succeeded yet
}

// Record sets project's last cycle, which ended at at: ok when every call
// of it was answered and everything it saw was stored.
func (c *Cycles) Record(project string, ok bool, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by = map[string]cycle{}
	}
	cy := c.by[project]
	cy.ok = ok
	if ok {
		cy.lastOK = at
	}
	c.by[project] = cy
}

// AllOK reports whether every project of projects had a cycle and its last
// one succeeded; false for none.
func (c *Cycles) AllOK(projects []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range projects {
		if cy, seen := c.by[p]; !seen || !cy.ok {
			return false
		}
	}
	return len(projects) > 0
}

// LastOK is when project's last successful cycle ended, nil when none did.
func (c *Cycles) LastOK(project string) *time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	cy := c.by[project]
	if cy.lastOK.IsZero() {
		return nil
	}
	at := cy.lastOK.UTC()
	return &at
}
