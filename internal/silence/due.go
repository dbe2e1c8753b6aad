package silence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// Due returns the tasks to post for the silences that have ended by now
// (their end passed, or removed): each task whose last event hidden, or
// seen since, left it failing or stalled. Each is claimed by
// compare-and-swap, so that of two replicas asking at once one gets it;
// the caller posts it and calls Done. A claim not Done within ClaimFor is
// offered again (the claimer died). Records of tasks that recovered are
// dropped here.
func (t *Tracker) Due(ctx context.Context, now time.Time) ([]Catchup, error) {
	var keys []string
	t.mu.Lock()
	for _, ks := range t.byTask {
		for k := range ks {
			keys = append(keys, k)
		}
	}
	t.mu.Unlock()
	sort.Strings(keys)
	var out []Catchup
	for _, key := range keys {
		c, ok, err := t.claim(ctx, key, now)
		if err != nil {
			return out, err
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// claim takes one record if its silence has ended and nobody holds it.
func (t *Tracker) claim(ctx context.Context, key string, now time.Time) (Catchup, bool, error) {
	e, err := t.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Catchup{}, false, nil // done by another replica meanwhile
	}
	if err != nil {
		return Catchup{}, false, fmt.Errorf("silence: read %s: %w", key, err)
	}
	var h hidden
	if err := json.Unmarshal(e.Value(), &h); err != nil {
		return Catchup{}, false, fmt.Errorf("silence: record %s unreadable: %w", key, err)
	}
	ended := !now.Before(h.End) || !t.set.has(h.Silence)
	switch {
	case !ended:
		return Catchup{}, false, nil
	case h.Recovered:
		err := t.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
		if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return Catchup{}, false, fmt.Errorf("silence: drop %s: %w", key, err)
		}
		return Catchup{}, false, nil
	case h.ClaimedAt != nil && now.Sub(*h.ClaimedAt) < ClaimFor:
		return Catchup{}, false, nil // another replica is posting it
	}
	at := now.UTC()
	h.ClaimedAt = &at
	body, err := json.Marshal(h)
	if err != nil {
		return Catchup{}, false, fmt.Errorf("silence: encode %s: %w", key, err)
	}
	rev, err := t.kv.Update(ctx, key, body, e.Revision())
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return Catchup{}, false, nil // another replica claimed it first
	}
	if err != nil {
		return Catchup{}, false, fmt.Errorf("silence: claim %s: %w", key, err)
	}
	env := h.Envelope
	env.NATSSubject, env.Data.Silenced = h.Subject, ""
	return Catchup{Envelope: env, Silence: h.Silence, key: key, rev: rev}, true, nil
}

// Done drops the records of catch-ups posted: they are not offered again.
func (t *Tracker) Done(ctx context.Context, cs ...Catchup) error {
	for _, c := range cs {
		err := t.kv.Delete(ctx, c.key, jetstream.LastRevision(c.rev))
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // claimed again after ClaimFor: the new claimer drops it
		}
		if err != nil {
			return fmt.Errorf("silence: done %s: %w", c.key, err)
		}
	}
	return nil
}

// CatchUp posts, through post, each task due by now (Due) and drops
// the records of those posted (Done); a failed post is left claimed, and
// offered again after ClaimFor. It returns how many were posted.
func (t *Tracker) CatchUp(ctx context.Context, now time.Time, post func(context.Context, Catchup) error) (int, error) {
	due, err := t.Due(ctx, now)
	var posted []Catchup
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, c := range due {
		if err := post(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("silence: catch-up of task %s after %s: %w", c.Envelope.Data.TaskID, c.Silence, err))
			continue
		}
		posted = append(posted, c)
	}
	if err := t.Done(ctx, posted...); err != nil {
		errs = append(errs, err)
	}
	return len(posted), errors.Join(errs...)
}

// RunCatchUp calls CatchUp every period (clock now) until ctx ends,
// logging what it posted and why a round failed: the loop the Slack
// notifier runs beside its consumers.
func (t *Tracker) RunCatchUp(ctx context.Context, every time.Duration, now func() time.Time, post func(context.Context, Catchup) error) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := t.CatchUp(ctx, now(), post)
		if n > 0 {
			t.log.Info().Int("posted", n).Msg("silence over: tasks still failing posted")
		}
		if err != nil && ctx.Err() == nil {
			t.log.Warn().Err(err).Msg("catch-up after a silence: will try again")
		}
	}
}

// Repost is the catch-up event of c, to publish at now: the hidden event
// under a new id derived from its own and the silence's, data.catch_up
// naming the silence, its time now and observed_at the original's.
func (c Catchup) Repost(now time.Time) notify.Envelope {
	env := c.Envelope
	env.ID = diff.DerivedID(env.ID, "catch_up/"+c.Silence)
	if env.Data.ObservedAt == nil {
		at := env.Time
		env.Data.ObservedAt = &at
	}
	env.Time = now.UTC()
	env.Data.Silenced, env.Data.CatchUp = "", c.Silence
	return env
}
