package poller

import (
	"errors"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// apiWide reports whether an error says the API as a whole cannot be seen
// (credentials, throttling, outage) rather than one task's answer being bad.
func apiWide(err error) bool {
	return errors.Is(err, dcs.ErrAuth) || errors.Is(err, dcs.ErrThrottled) || errors.Is(err, dcs.ErrRetryable)
}

// stopsCycle reports whether further calls in this cycle would do harm.
func stopsCycle(err error) bool {
	return errors.Is(err, dcs.ErrAuth) || errors.Is(err, dcs.ErrThrottled)
}
