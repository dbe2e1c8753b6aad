package app

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/broker"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/lease"
)

// Replicas of the watcher on one NATS (a cluster) share the watched
// projects: each (region, project) has a lease in nats.lease_bucket, and
// only its holder runs that project's poller; every replica runs the Slack
// notifier, whose durable consumer shares the deliveries.
//
// Why no event is doubled or published stale by a replica that lost its
// lease (paused past its TTL, cut off from NATS), three mechanisms
// combine:
//
//  1. The lease check (lease.Store.Check, the poller's Fence: App.fence)
//     before each cycle, each snapshot write and each publish: the lease
//     key still holds a revision this replica wrote, and the lease has not
//     expired by its clock (its own record past the expiry is renewed
//     first). A replica woken from SIGSTOP fails it (the new holder's
//     revision is there) before it touches anything. A key that cannot be
//     read passes: the write then fails on the unreachable store and the
//     poller journals it.
//  2. The compare-and-swap of each snapshot write on the revision the
//     writer read: a new leader reloads the project's records (Reload) and
//     advances the keys it writes, so a stale leader that passed its check
//     a moment before the take-over still fails on every key the new
//     leader wrote; its cached revisions are behind.
//  3. The outbox: an event is published only after its record (holding it)
//     was written, with an id stamped with the project and the revision it
//     was diffed against, so the same change found by both leaders has the
//     same id and JetStream drops the second copy (Nats-Msg-Id). What a
//     stale leader could still publish after its last successful check is
//     an event its own successful CAS committed: a true event, owed to the
//     stream either way.
//
// A single atomic step (the server's atomic batch publish with an expected
// last subject sequence per message) cannot span the lease bucket, the
// snapshot bucket and the events stream, which are three streams, and
// nats.go v1.55 has no client API for it; it is not used.
//
// Leases need an external NATS: the embedded server makes the process the
// only replica (its data dir is its own), and a restart after a crash must
// not wait for its own dead lease to expire.

// openLeases opens the lease bucket and names this replica.

// handOverTimeout bounds the hand-over of a journal after a lost lease.
const handOverTimeout = 30 * time.Second

func openLeases(ctx context.Context, b *broker.Broker, cfg config.Config, id string, log zerolog.Logger) (*lease.Store, error) {
	if id == "" {
		id = lease.NewIdentity()
	}
	s, err := lease.Open(ctx, b.JS, lease.Options{
		Bucket: cfg.NATS.LeaseBucket, Replicas: cfg.NATS.Replicas, TTL: cfg.NATS.LeaseTTL, Identity: id,
	})
	if err != nil {
		return nil, err
	}
	log.Info().Str("component", "lease").Str("replica", id).Str("bucket", cfg.NATS.LeaseBucket).
		Dur("ttl", cfg.NATS.LeaseTTL).Msg("replica identity: projects are polled under leases")
	return s, nil
}

// heartbeat keeps this replica's heartbeat key alive and counts the live
// replicas, so that each takes at most its share of the projects; on
// exit it removes the key.
func (a *App) heartbeat(ctx context.Context) {
	log := a.opts.Logger.With().Str("component", "lease").Logger()
	every := a.Leases.TTL() / 3
	for {
		if err := a.Leases.Heartbeat(ctx); err != nil && ctx.Err() == nil {
			log.Warn().Err(err).Msg("replica heartbeat failed")
		}
		if n, err := a.Leases.Live(ctx); err == nil {
			if old := a.live.Swap(int64(n)); old != int64(n) {
				log.Info().Int("replicas", n).Int("share", a.share()).Msg("live replicas")
			}
		}
		select {
		case <-ctx.Done():
			c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = a.Leases.Leave(c)
			cancel()
			return
		case <-time.After(every):
		}
	}
}

// Leads reports whether this replica polls project i: always without
// leases, else while it holds the project's lease.
func (a *App) Leads(i int) bool { return a.Leases == nil || a.leads[i].Load() }

// LeaseCounts are the leases this replica holds and the replicas alive.
func (a *App) LeaseCounts() (held, live int) {
	return int(a.held.Load()), max(1, int(a.live.Load()))
}

// share is how many projects this replica may lead: ceil(projects/replicas).
func (a *App) share() int {
	n := max(1, int(a.live.Load()))
	return (len(a.Projects) + n - 1) / n
}

// lead polls project i whenever this replica holds its lease: it tries to
// take the lease (when under its share) about every second, and runs a
// poller for as long as it holds it.
func (a *App) lead(ctx context.Context, i int, spec string) error {
	p := a.Projects[i]
	key := lease.LeaseKey(p.Region, p.ProjectID)
	log := a.opts.Logger.With().Str("component", "lease").Str("project_id", p.ProjectID).Str("lease", key).Logger()
	retry := min(a.Leases.TTL()/3, time.Second)
	for ctx.Err() == nil {
		if int(a.held.Load()) < a.share() {
			h, err := a.acquire(ctx, key)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Debug().Err(err).Msg("lease not taken")
			case h != nil:
				if err := a.tenure(ctx, i, h, spec, log); err != nil {
					return err
				}
			}
		}
		// Jitter: replicas starting together take turns.
		select {
		case <-ctx.Done():
		case <-time.After(retry/2 + mrand.N(retry)):
		}
	}
	return nil
}

// acquireTimeout bounds a lease's take, which a shutdown does not cut
// short (acquire).
const acquireTimeout = 5 * time.Second

// acquire takes key's lease. A shutdown does not cancel the take in
// flight: cancelled between the write and its answer, the lease would be
// held by a replica that does not know it, and nobody (the next App after
// a reload included) could take it before its TTL; a lease taken as ctx
// ends is released at once.
func (a *App) acquire(ctx context.Context, key string) (*lease.Held, error) {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), acquireTimeout)
	defer cancel()
	h, err := a.Leases.Acquire(c, key)
	if h != nil && ctx.Err() != nil {
		a.release(h, "shutting down", a.opts.Logger.With().Str("component", "lease").Str("lease", key).Logger())
		return nil, ctx.Err()
	}
	return h, err
}

// tenure runs project i's poller while this replica holds h, under the
// lease package's renewals (lease.Store.Hold): the poller stops
// (cancelling the cycle in flight) the moment the lease is found lost, and
// the lease is released on exit or when this replica holds more than its
// share.
//
// An outage of NATS does not stop the poller (lease.Tenure.RideThrough):
// nobody can take a lease over in a bucket nobody reaches, so the holder
// keeps polling past its local expiry, its observations journaled (the
// poller's journal), and the lease record decides when NATS answers again:
// still this replica's (the revision it wrote) and the lease is renewed and
// the journal replayed; another replica's and the journal is dropped,
// polling stopped. At shutdown the lease is kept while observations are
// journaled, for the next run of this replica to replay them.
func (a *App) tenure(ctx context.Context, i int, h *lease.Held, spec string, log zerolog.Logger) error {
	a.held.Add(1)
	a.leads[i].Store(true)
	handed := false
	defer func() {
		a.leads[i].Store(false)
		if !handed {
			a.held.Add(-1)
		}
	}()
	log.Info().Uint64("revision", h.Revision()).Msg("lease taken: this replica polls the project")
	p := a.Projects[i]
	// Another replica may have led meanwhile: diff against what KV holds.
	if err := a.Snaps.Reload(ctx, p.ProjectID); err != nil {
		log.Warn().Err(err).Msg("snapshots not reloaded: lease given back")
		a.release(h, "snapshots not reloaded", log)
		return nil
	}
	prev, _, _ := h.Previous()
	// A journal left in the data dir is replayed only when its writer held
	// the lease last: nobody led the project since.
	journal := a.journal(p.Project, a.Leases.Identity(), func(writer string) bool { return writer != "" && writer == prev })
	pl := a.poller(p.Project, p.client, p.pub, a.opts, func(ctx context.Context) error { return a.fence(ctx, h) }, journal)
	share := 0
	end, err := a.Leases.Hold(ctx, h, lease.Tenure{
		RideThrough: true,
		Failed: func(err error) {
			switch {
			case errors.Is(err, lease.ErrLost):
				log.Warn().Err(err).Msg("lease lost: polling stopped")
			case errors.Is(err, lease.ErrExpired):
				log.Warn().Time("expired", h.Expires()).Msg("lease expired unrenewed, NATS unreachable: polling goes on and journals what it sees; the lease record decides when NATS answers")
			default:
				log.Warn().Err(err).Time("expires", h.Expires()).Msg("lease not renewed")
			}
		},
		Renewed: func(lapsed bool) bool {
			if lapsed {
				log.Info().Uint64("revision", h.Revision()).Msg("lease renewed after its expiry: nobody took it over, the journal is replayed")
			}
			share = a.share()
			n := a.held.Load()
			handed = n > int64(share) && a.held.CompareAndSwap(n, n-1)
			return !handed
		},
	}, func(ctx context.Context) error { return pl.Run(ctx, spec) })
	switch end {
	case lease.Lost:
		// Renewal reached NATS to learn it: the store answers again.
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handOverTimeout)
		pl.HandOver(hctx)
		cancel()
	case lease.Stopped:
		if n := pl.Journaled(); n > 0 {
			log.Warn().Int("journaled", n).Msg("lease kept at shutdown: the next run of this replica replays the journal, unless another replica takes the lease first")
			return err
		}
		a.release(h, "shutting down", log)
	case lease.Yielded:
		a.release(h, fmt.Sprintf("more than this replica's share (%d)", share), log)
	default:
		a.release(h, "poller stopped", log)
	}
	return err
}

// fence is the poller's check under lease h. The lease key at another
// holder's revision stops the write (lease.ErrLost). While NATS is away
// (the connection down, or the key unreadable) the write goes ahead and
// fails on the store, and the poller journals what it saw. The record
// still this replica's past its expiry (nobody took it over) is renewed
// first.
func (a *App) fence(ctx context.Context, h *lease.Held) error {
	if !a.Broker.Conn.IsConnected() {
		return nil
	}
	err := a.Leases.Check(ctx, h)
	switch {
	case errors.Is(err, lease.ErrUnreachable):
		return nil
	case errors.Is(err, lease.ErrExpired):
		if err := a.Leases.Renew(ctx, h); errors.Is(err, lease.ErrLost) {
			return err
		}
		return nil
	}
	return err
}

// release gives h back at once.
func (a *App) release(h *lease.Held, why string, log zerolog.Logger) {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.Leases.Release(c, h); err != nil {
		log.Warn().Err(err).Msg("lease not released: it expires by itself")
		return
	}
	log.Info().Str("why", why).Msg("lease released")
}
