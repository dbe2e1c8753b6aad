package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// rebuild is what Snapshots needs to recreate its bucket when someone
// deletes it under a running watcher (an operator's `nats kv del`, a
// JetStream store wiped and restarted). The in-memory copy holds every
// snapshot, so nothing is lost: the bucket is recreated and refilled from
// it, and no task is seen as new.
type rebuild struct {
	js         jetstream.JetStream
	cfg        jetstream.KeyValueConfig
	onRecreate func(ctx context.Context, what string, cause error)

	// writes is held shared by every KV write and exclusively while the
	// bucket is refilled, so that no write meets a half-filled bucket
	// (a CAS on a key not yet rewritten would drop it from the cache and
	// make its task look new).
	writes sync.RWMutex
	// gen counts recreations (under writes): a writer that failed before
	// another one recreated the bucket just tries again.
	gen uint64
}

// Put writes the record of a project's task (API: of the API) if the
// stored revision is still the one cached (compare-and-swap). On a conflict
// it refreshes the cache and returns ErrConflict.
//
// When the bucket is gone (the write gets no answer from its stream and
// the server confirms the bucket does not exist), Put recreates it,
// rewrites every cached record into it, reports it through
// BucketOptions.OnRecreate and writes rec once more.
func (s *Snapshots) Put(ctx context.Context, project, task string, rec Record) error {
	s.rb.writes.RLock()
	gen := s.rb.gen
	err := s.put(ctx, project, task, rec)
	s.rb.writes.RUnlock()
	if !errors.Is(err, jetstream.ErrNoStreamResponse) && !errors.Is(err, nats.ErrNoResponders) {
		return err
	}
	if rerr := s.recreate(ctx, gen, err); rerr != nil {
		return errors.Join(err, rerr)
	}
	s.rb.writes.RLock()
	defer s.rb.writes.RUnlock()
	return s.put(ctx, project, task, rec)
}

// recreate recreates the bucket and refills it from the cache, unless
// another writer did since generation gen or the bucket is there after all
// (a stream that did not answer in time is not a missing one).
func (s *Snapshots) recreate(ctx context.Context, gen uint64, cause error) error {
	s.rb.writes.Lock()
	if s.rb.gen != gen {
		s.rb.writes.Unlock()
		return nil
	}
	name := s.rb.cfg.Bucket
	_, err := s.rb.js.KeyValue(ctx, name)
	if err == nil {
		s.rb.writes.Unlock()
		return nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		s.rb.writes.Unlock()
		return fmt.Errorf("state: bucket %s did not answer; looking it up: %w", name, err)
	}
	kv, err := s.rb.js.CreateOrUpdateKeyValue(ctx, s.rb.cfg)
	if err != nil {
		s.rb.writes.Unlock()
		return fmt.Errorf("state: recreate missing bucket %s: %w", name, err)
	}
	s.kv = kv
	s.rb.gen++
	n, rerr := s.refill(ctx)
	s.rb.writes.Unlock()

	what := fmt.Sprintf("kv bucket %s (%d snapshots rewritten from memory)", name, n)
	if rerr != nil {
		what = fmt.Sprintf("kv bucket %s (%d snapshots rewritten from memory, some could not be: %v)", name, n, rerr)
	}
	if s.rb.onRecreate != nil {
		s.rb.onRecreate(ctx, what, cause)
	}
	return nil
}

// refill writes every cached record into the fresh bucket and takes the new
// revisions into the cache. A record that cannot be written is dropped from
// the cache: its task will be seen as new, which is better than a cache
// that disagrees with the bucket for ever.
func (s *Snapshots) refill(ctx context.Context) (int, error) {
	s.mu.RLock()
	entries := make(map[string]cached, len(s.cache))
	for k, e := range s.cache {
		entries[k] = e
	}
	s.mu.RUnlock()
	var errs []error
	n := 0
	for k, e := range entries {
		body, err := json.Marshal(e.entry().Record)
		var rev uint64
		if err == nil {
			rev, err = s.kv.Create(ctx, k, body)
		}
		s.mu.Lock()
		if err != nil {
			delete(s.cache, k)
			errs = append(errs, fmt.Errorf("rewrite %s: %w", k, err))
		} else {
			e.Revision = rev
			s.cache[k] = e
			n++
		}
		s.mu.Unlock()
	}
	return n, errors.Join(errs...)
}
