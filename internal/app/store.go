package app

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// StoreClass is the blindness class of the watch_degraded event that
// reports a JetStream store (the events stream, the snapshot bucket) found
// missing under the running watcher and recreated.
const StoreClass = "store"

// storeLost reports a store that the publisher or the snapshot store found
// missing and recreated: an error log line naming it, then a
// watch_degraded and a watch_recovered event with scope store (on
// <prefix>.<project>._store.>; the recreation is done by the time anyone
// hears of it), so that an operator
// learns that events may have been lost to consumers, rather than nothing.
type storeLost struct {
	log       zerolog.Logger
	pub       *notify.Publisher
	project   string
	now       func() time.Time
	published func(notify.Envelope)
	// seq tells the episodes of this process apart; the first is the
	// start time, so that a restarted watcher's episodes get new ids too
	// (a recreation is reported when it happens, never re-detected).
	seq atomic.Uint64
}

func (s *storeLost) report(ctx context.Context, what string, cause error) {
	s.log.Error().Err(cause).Str("store", what).
		Msg("JetStream store missing: recreated it; events it held that consumers had not read are lost")
	now := time.Now()
	if s.now != nil {
		now = s.now()
	}
	s.seq.CompareAndSwap(0, uint64(time.Now().UnixNano()))
	seq := s.seq.Add(1)
	reason := what + " was missing and has been recreated"
	for _, ev := range []diff.Event{
		diff.Degraded("", StoreClass, reason, nil, seq),
		diff.Recovered("", StoreClass, nil, seq),
	} {
		ev.Scope = diff.ScopeStore
		env := s.pub.Envelope(ev.At(s.project, 0), notify.Meta{ProjectID: s.project, ObservedAt: now})
		if err := s.pub.Publish(ctx, env); err != nil {
			s.log.Error().Err(err).Str("store", what).Str("kind", string(ev.Kind)).
				Msg("could not publish the report of a recreated store")
			continue
		}
		if s.published != nil {
			s.published(env)
		}
	}
}
