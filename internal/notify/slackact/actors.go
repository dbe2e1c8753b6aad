package slackact

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// membersTTL is how long a user group's members are trusted before they
// are read again: a user added to the on-call group can act within a
// minute, and a burst of clicks costs one call per group.
const membersTTL = time.Minute

// groupReader reads a user group's members (usergroups.users.list).
type groupReader func(ctx context.Context, group string) ([]string, error)

// actors says who may act: anyone when no group is configured, else the
// members of any of the groups.
type actors struct {
	groups []string
	read   groupReader
	now    func() time.Time

	mu     sync.Mutex
	cached map[string]members
}

type members struct {
	users []string
	at    time.Time
}

// allowed says whether user may act; an error says a group could not be
// read (the click is then refused: nobody unchecked acts).
func (a *actors) allowed(ctx context.Context, user string) (bool, error) {
	if len(a.groups) == 0 {
		return true, nil
	}
	for _, g := range a.groups {
		users, err := a.members(ctx, g)
		if err != nil {
			return false, err
		}
		if slices.Contains(users, user) {
			return true, nil
		}
	}
	return false, nil
}

func (a *actors) members(ctx context.Context, group string) ([]string, error) {
	now := a.now()
	a.mu.Lock()
	m, ok := a.cached[group]
	a.mu.Unlock()
	if ok && now.Sub(m.at) < membersTTL {
		return m.users, nil
	}
	users, err := a.read(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("read the members of user group %s: %w", group, err)
	}
	a.mu.Lock()
	if a.cached == nil {
		a.cached = map[string]members{}
	}
	a.cached[group] = members{users: users, at: now}
	a.mu.Unlock()
	return users, nil
}
