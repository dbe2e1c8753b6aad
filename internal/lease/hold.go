package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dcs-watcher/watcher/internal/retry"
)

// End is why a tenure (Hold) ended.
type End int

const (
	// Stopped: Hold's ctx ended.
	Stopped End = iota
	// Finished: lead returned by itself.
	Finished
	// Lost: a renewal found the lease another holder's, or released
	// (ErrLost).
	Lost
	// Lapsed: the lease's expiry passed unrenewed (without RideThrough).
	Lapsed
	// Yielded: Tenure.Renewed asked to end the tenure.
	Yielded
)

func (e End) String() string {
	switch e {
	case Stopped:
		return "stopped"
	case Finished:
		return "finished"
	case Lost:
		return "lost"
	case Lapsed:
		return "lapsed"
	case Yielded:
		return "yielded"
	}
	return fmt.Sprintf("End(%d)", int(e))
}

// Tenure is what a holder does differently while it holds a lease (Hold).
// The zero value starts at once, renews every TTL/3 (every second, at most
// TTL/3, after a failed renewal) and ends the tenure when the lease lapses.
type Tenure struct {
	// Ready is when lead starts: until then the lease is held and renewed
	// and nothing runs under it (the Slack lane waits there for the batch
	// of a holder that crashed to be redelivered). Zero starts it at once.
	Ready time.Time
	// RideThrough keeps the tenure past the lease's expiry while renewals
	// fail without finding the lease lost: the store is unreachable, so
	// nobody can take the lease over either, and the first renewal that
	// reaches it decides (the poller, which journals meanwhile). Without
	// it the tenure ends at the expiry by this holder's clock, so that the
	// next holder, which waits for the recorded expiry plus the skew,
	// never overlaps with it.
	RideThrough bool
	// Failed, when set, is told as it happens of each renewal that failed
	// (an error wrapping ErrLost when it found the lease lost, which ends
	// the tenure) and of the expiry passing unrenewed (an error wrapping
	// ErrExpired: the end of the tenure, or under RideThrough the start of
	// a ride-through).
	Failed func(err error)
	// Renewed, when set, is told of each successful renewal, lapsed when
	// it came after the lease's expiry (RideThrough); returning false ends
	// the tenure (Yielded).
	Renewed func(lapsed bool) (keep bool)
}

// Hold runs lead while this replica holds h (client-go's leader election
// shape: lead is OnStartedLeading, Hold's return OnStoppedLeading): it
// renews h every TTL/3, and lead's ctx ends when the lease is lost, when
// it lapses (see Tenure.RideThrough), when Tenure.Renewed yields, or when
// ctx ends. Hold returns once lead has returned, with why the tenure ended
// and lead's error (nil when lead never started: ctx ended, or the lease
// was lost, before Tenure.Ready). It neither releases h nor keeps it: what
// to do with the lease (release it, leave it to lapse) is the caller's,
// by the End.
func (s *Store) Hold(ctx context.Context, h *Held, t Tenure, lead func(ctx context.Context) error) (End, error) {
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		if retry.SleepUntil(lctx, t.Ready) != nil {
			done <- nil // ended before it started
			return
		}
		done <- lead(lctx)
	}()
	end := func(e End) (End, error) { stop(); return e, <-done }
	every := s.o.TTL / 3
	renewAt := s.o.Now().Add(every)
	lapsed := false
	for {
		wake := renewAt
		if !lapsed && h.Expires().Before(wake) {
			wake = h.Expires()
		}
		timer := time.NewTimer(wake.Sub(s.o.Now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return end(Stopped)
		case err := <-done:
			timer.Stop()
			if ctx.Err() != nil {
				return Stopped, err
			}
			return Finished, err
		case <-timer.C:
		}
		if now := s.o.Now(); !lapsed && !now.Before(h.Expires()) {
			t.failed(fmt.Errorf("lease %s expired at %s unrenewed: %w", h.Key, h.Expires().Format(time.RFC3339Nano), ErrExpired))
			if !t.RideThrough {
				return end(Lapsed)
			}
			lapsed = true
		}
		if s.o.Now().Before(renewAt) {
			continue
		}
		err := s.renewWithin(ctx, h, lapsed)
		switch {
		case errors.Is(err, ErrLost):
			t.failed(err)
			return end(Lost)
		case err != nil && ctx.Err() != nil:
			continue // Stopped, at the top
		case err != nil:
			t.failed(err)
			renewAt = s.o.Now().Add(min(every, time.Second))
			continue
		}
		renewAt = s.o.Now().Add(every)
		was := lapsed
		lapsed = false
		if t.Renewed != nil && !t.Renewed(was) {
			return end(Yielded)
		}
	}
}

// renewWithin renews h, by its expiry unless it has lapsed (a ride-through:
// then as long as the store's own timeout lets it).
func (s *Store) renewWithin(ctx context.Context, h *Held, lapsed bool) error {
	if !lapsed {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, h.Expires())
		defer cancel()
	}
	return s.Renew(ctx, h)
}

func (t Tenure) failed(err error) {
	if t.Failed != nil {
		t.Failed(err)
	}
}
