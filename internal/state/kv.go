package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/kvkey"
)

// ErrConflict means another writer advanced the snapshot first; the cached
// copy has been refreshed from KV and the caller should re-detect next cycle.
var ErrConflict = errors.New("snapshot changed by another writer")

var errCorrupt = errors.New("corrupt record")

// Snapshots is the snapshot store: a JetStream KV bucket and its in-memory
// copy. It is safe for concurrent use.
type Snapshots struct {
	kv jetstream.KeyValue
	rb rebuild // recreates the bucket if it disappears (recover.go)

	onCorrupt func(key string, err error)

	mu    sync.RWMutex
	cache map[string]Entry
}

// BucketOptions configures the KV bucket.
type BucketOptions struct {
	Bucket   string
	Replicas int
	// OnCorrupt hears of a record that cannot be decoded; it is skipped, so
	// the task is treated as new rather than stopping the watcher.
	OnCorrupt func(key string, err error)
	// OnRecreate hears that the bucket was found missing and recreated
	// from memory (see Put).
	OnRecreate func(ctx context.Context, what string, cause error)
}

// Open creates the bucket if missing and loads every snapshot into memory.
func Open(ctx context.Context, js jetstream.JetStream, o BucketOptions) (*Snapshots, error) {
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	cfg := jetstream.KeyValueConfig{
		Bucket:      o.Bucket,
		Description: "DCS migration watcher: last snapshot of each task",
		History:     1,
		Replicas:    o.Replicas,
		Storage:     jetstream.FileStorage,
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("state: open bucket %s: %w", o.Bucket, err)
	}
	s := &Snapshots{kv: kv, cache: map[string]Entry{}, onCorrupt: o.OnCorrupt,
		rb: rebuild{js: js, cfg: cfg, onRecreate: o.OnRecreate}}
	if s.onCorrupt == nil {
		s.onCorrupt = func(string, error) {}
	}
	if err := s.reload(ctx, ""); err != nil {
		return nil, err
	}
	return s, nil
}

// Refresh reads the record of a project's task from KV into the cache: after
// a write whose outcome is unknown (a timeout while NATS went away; the
// client may have sent it on reconnecting), the cache must not be trusted.
func (s *Snapshots) Refresh(ctx context.Context, project, task string) (Entry, error) {
	return s.refresh(ctx, Key(project, task))
}

// refresh reads one key from KV into the cache.
func (s *Snapshots) refresh(ctx context.Context, key string) (Entry, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		s.mu.Lock()
		delete(s.cache, key)
		s.mu.Unlock()
		return Entry{}, nil
	}
	if err != nil {
		return Entry{}, fmt.Errorf("state: get %s: %w", key, err)
	}
	var rec Record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		// A corrupt record must not stop the watcher: keep only its revision,
		// so the next write replaces it and the task is seen as new.
		s.mu.Lock()
		s.cache[key] = Entry{Revision: e.Revision()}
		s.mu.Unlock()
		return Entry{}, fmt.Errorf("state: decode %s (revision %d): %w: %w", key, e.Revision(), errCorrupt, err)
	}
	ent := Entry{Record: rec, Revision: e.Revision()}
	s.mu.Lock()
	s.cache[key] = ent
	s.mu.Unlock()
	return ent, nil
}

// API is the task token of the record about the API as a whole.
const API = "_api"

// Get returns the cached entry of a project's task (API: of the API).
func (s *Snapshots) Get(project, task string) (Entry, bool) {
	return s.get(Key(project, task))
}

func (s *Snapshots) get(key string) (Entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.cache[key]
	return e, ok
}

// Tasks returns the cached entries of a project that hold a task snapshot
// (removed ones included), sorted by task id.
func (s *Snapshots) Tasks(project string) []Entry {
	prefix := kvkey.Token(project) + "."
	s.mu.RLock()
	// Room for every cached entry at once: at 100k tasks the list is
	// 14 MB, and an array that doubles as it fills makes twice that.
	out := make([]Entry, 0, len(s.cache))
	for k, e := range s.cache {
		if e.Task != nil && strings.HasPrefix(k, prefix) {
			out = append(out, e)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Task.ID, b.Task.ID) })
	return out
}

// Each calls f with each cached entry of a project that holds a task
// snapshot (removed ones included), in no order, under the cache's read
// lock: f must not call s. A pass over every task so copies none of them
// (Tasks' list is 14 MB at 100k tasks).
func (s *Snapshots) Each(project string, f func(Entry)) {
	prefix := kvkey.Token(project) + "."
	s.mu.RLock()
	defer s.mu.RUnlock()
	for k, e := range s.cache {
		if e.Task != nil && strings.HasPrefix(k, prefix) {
			f(e)
		}
	}
}

// Len is the number of cached entries.
func (s *Snapshots) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.cache)
}

// put is Put without the recovery of a missing bucket.
func (s *Snapshots) put(ctx context.Context, project, task string, rec Record) error {
	key := Key(project, task)
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("state: encode %s: %w", key, err)
	}
	prev, _ := s.get(key)
	var rev uint64
	if prev.Revision == 0 {
		rev, err = s.kv.Create(ctx, key, body)
	} else {
		rev, err = s.kv.Update(ctx, key, body, prev.Revision)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongLastSequence(err) {
		if _, rerr := s.refresh(ctx, key); rerr != nil {
			return errors.Join(fmt.Errorf("state: put %s: %w", key, ErrConflict), rerr)
		}
		return fmt.Errorf("state: put %s: %w", key, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("state: put %s: %w", key, err)
	}
	s.mu.Lock()
	s.cache[key] = Entry{Record: rec, Revision: rev}
	s.mu.Unlock()
	return nil
}

// isWrongLastSequence recognises the server's CAS failure when the client
// library reports it as a plain API error.
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// Key is the KV key of a task: "<project>.<task>", each token restricted to
// the characters KV keys allow.
func Key(project, task string) string { return kvkey.Token(project) + "." + kvkey.Token(task) }

// Reload reads every record of a project from KV again, dropping cached
// ones KV no longer holds: a replica that takes a project's lease over
// must not diff against what it cached while another replica led.
func (s *Snapshots) Reload(ctx context.Context, project string) error {
	return s.reload(ctx, kvkey.Token(project)+".")
}

// reload reads every record whose key starts with prefix ("": all of them)
// from KV into the cache, and drops the cached ones with that prefix that
// KV no longer holds. A corrupt record is reported and skipped.
func (s *Snapshots) reload(ctx context.Context, prefix string) error {
	lister, err := s.kv.ListKeysFiltered(ctx, prefix+">")
	if err != nil {
		return fmt.Errorf("state: list keys %s>: %w", prefix, err)
	}
	keys := map[string]bool{}
	for k := range lister.Keys() {
		keys[k] = true
	}
	s.mu.Lock()
	for k := range s.cache {
		if strings.HasPrefix(k, prefix) && !keys[k] {
			delete(s.cache, k)
		}
	}
	s.mu.Unlock()
	for k := range keys {
		if _, err := s.refresh(ctx, k); errors.Is(err, errCorrupt) {
			s.onCorrupt(k, err)
		} else if err != nil {
			return err
		}
	}
	return nil
}
