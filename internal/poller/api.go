package poller

import (
	"errors"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

func (p *Poller) updatePause(apiErr error) {
	now := p.o.Now()
	switch {
	case apiErr == nil:
		p.authPause = 0
	case errors.Is(apiErr, dcs.ErrAuth):
		// The gateway locks an AK for 5 minutes after more than 5
		// consecutive failures: back off from 30 s, doubling, up to 10 min.
		p.authPause = min(max(2*p.authPause, 30*time.Second), 10*time.Minute)
		p.pauseUntil = now.Add(p.authPause)
	case errors.Is(apiErr, dcs.ErrThrottled):
		d := time.Second
		var ae *dcs.APIError
		if errors.As(apiErr, &ae) && ae.RetryAfter > 0 {
			d = ae.RetryAfter
		}
		p.pauseUntil = now.Add(d)
	}
}

func (p *Poller) logCallErr(err error, id string, info dcs.Info, what string) {
	ev := p.o.Logger.Warn().Err(err).Str("class", dcs.Class(err))
	if id != "" {
		ev = ev.Str("task_id", id)
	}
	rid := info.RequestID
	var ae *dcs.APIError
	if rid == "" && errors.As(err, &ae) {
		rid = ae.RequestID
	}
	if rid != "" {
		ev = ev.Str("request_id", rid)
	}
	ev.Msg(what + " failed")
}

// apiWide reports whether an error says the API as a whole cannot be seen
// (credentials, throttling, outage) rather than one task's answer being bad.
func apiWide(err error) bool {
	return errors.Is(err, dcs.ErrAuth) || errors.Is(err, dcs.ErrThrottled) || errors.Is(err, dcs.ErrRetryable)
}

// stopsCycle reports whether further calls in this cycle would do harm.
func stopsCycle(err error) bool {
	return errors.Is(err, dcs.ErrAuth) || errors.Is(err, dcs.ErrThrottled)
}
