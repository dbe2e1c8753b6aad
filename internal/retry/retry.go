// Package retry holds the two small pieces every caller of a rate-limited
// HTTP API needs when told to come back later: reading a Retry-After header
// and waiting until a time unless the context ends first. The DCS client,
// the Slack sender and pacer and the bench share them.
package retry

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxAfter caps a Retry-After: a server asking for more than a day is
// better read as a bug than obeyed.
const maxAfter = 24 * time.Hour

// After reads a Retry-After header, delay seconds or an HTTP date (relative
// to now). ok is false when the header is absent or unusable, so the caller
// picks its own fallback; a date in the past is 0 and ok.
func After(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, int64(maxAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxAfter), true
	}
	return 0, false
}

// SleepUntil waits until t (at once if t has passed) or until ctx ends,
// whichever is first; only the latter is an error.
func SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
