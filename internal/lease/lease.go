// Package lease holds leases on JetStream KV keys, so that one of the
// watcher's replicas at a time does a job: polling a watched (region,
// project), in a bucket of the leases' own (Open), and delivering to a
// Slack destination, in the Slack marks bucket (New). A lease is created
// with Create, renewed with Update on the revision the holder last wrote
// (compare-and-swap), released with a Delete on that revision, and taken
// over, once its expiry (plus the allowed clock skew) has passed, with
// Update on the revision read. A released lease is a missing key; one
// whose record is still there past its expiry was not released: its holder
// crashed or was cut off, which the taker learns (Held.Previous). Each
// replica also keeps a heartbeat key in the poller's bucket, so that the
// replicas can count each other and share the projects.
//
// Fencing: a holder checks its lease before every snapshot write and every
// publish (Check): the lease key must still hold a revision this holder
// wrote, and its local expiry must not have passed. The revision, not a
// clock, decides: a replica paused past its expiry (SIGSTOP) finds, when it
// wakes, either a revision it did not write (it lost the lease) or its own
// record past its expiry (ErrExpired: nobody took it over, a renewal makes
// it the holder again). A check that cannot read the key says so
// (ErrUnreachable): nobody else can take a lease over in a bucket nobody
// reaches either, and the caller decides (see internal/app/lease.go). What
// remains between a passed check and the write is covered by the snapshot
// store's own compare-and-swap.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/kvkey"
)

// ErrLost means the lease is no longer this replica's: another replica
// holds it now, or it was released.
var ErrLost = errors.New("lease lost")

// ErrExpired means the lease key still holds this replica's record but its
// expiry has passed unrenewed: nobody has taken it over yet; a successful
// Renew makes the lease this replica's again.
var ErrExpired = errors.New("lease expired unrenewed")

// ErrUnreachable means the lease key could not be read: whether the lease is
// still this replica's is not known.
var ErrUnreachable = errors.New("lease store unreachable")

// Record is a lease key's value (and a heartbeat key's).
type Record struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// Options configures a Store.
type Options struct {
	Bucket   string
	Replicas int
	TTL      time.Duration
	// Identity names this replica in the records: unique per process.
	Identity string
	// Skew is how far the replicas' clocks may disagree: the record
	// carries the holder's wall-clock expiry, judged by the taker's clock,
	// so a taker waits until Expires + Skew. 0 trusts the clocks to agree.
	Skew time.Duration
	Now  func() time.Time
}

// Store is the lease bucket as one replica sees it.
type Store struct {
	kv jetstream.KeyValue
	o  Options
}

// Open creates the lease bucket if missing.
func Open(ctx context.Context, js jetstream.JetStream, o Options) (*Store, error) {
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      o.Bucket,
		Description: "DCS migration watcher: leader lease of each project, heartbeat of each replica",
		History:     1,
		Replicas:    o.Replicas,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("lease: open bucket %s: %w", o.Bucket, err)
	}
	return New(kv, o), nil
}

// New keeps leases in kv, an existing bucket shared with other keys (the
// Slack marks bucket); o.Bucket and o.Replicas are not used.
func New(kv jetstream.KeyValue, o Options) *Store {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{kv: kv, o: o}
}

// NewIdentity names a holder in lease records: the host and pid, for
// whoever reads the bucket, and random bytes, so that a restarted process
// (or a second holder in one process) is another holder.
func NewIdentity() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "watcher"
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(r[:]))
}

// Identity is who this replica is.
func (s *Store) Identity() string { return s.o.Identity }

// TTL is how long a lease lasts unrenewed.
func (s *Store) TTL() time.Duration { return s.o.TTL }

// Held is a lease this replica holds: the revision it last wrote and the
// expiry it wrote with it. Safe for concurrent use.
type Held struct {
	Key string
	// mu orders the updates of rev and expires, so that neither goes back
	// when a renewal and a check that saw its write both record it.
	mu      sync.Mutex
	rev     atomic.Uint64
	expires atomic.Int64 // unix nanoseconds
	// prev is the record Acquire took over, crashed whether it was another
	// holder's left unreleased; both set once, before Acquire returns.
	prev    Record
	crashed bool
}

// Previous tells what Acquire took over: the holder of the record that was
// there and its expiry, and crashed when that was another holder's record
// left past its expiry, not released (Release deletes the key): that
// holder crashed or was cut off, and what it was doing may still be in
// flight until some time after its expiry. holder is "" when the key was
// missing (never held, or released), and also, with crashed set, when the
// record could not be read. A tenure of this replica's own (holder is
// Identity) is not crashed: this replica knows what it left.
func (h *Held) Previous() (holder string, expires time.Time, crashed bool) {
	return h.prev.Holder, h.prev.Expires, h.crashed
}

// Revision is the lease key's revision this replica last wrote.
func (h *Held) Revision() uint64 { return h.rev.Load() }

// Expires is when the lease ends unless renewed.
func (h *Held) Expires() time.Time { return time.Unix(0, h.expires.Load()) }

// set records a revision this holder wrote with its expiry, unless a later
// one is already recorded.
func (h *Held) set(rev uint64, exp time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rev < h.rev.Load() {
		return
	}
	h.expires.Store(exp.UnixNano())
	h.rev.Store(rev)
}

// LeaseKey is the lease key of a project in a region.
func LeaseKey(region, project string) string {
	return "lease." + kvkey.Token(region) + "." + kvkey.Token(project)
}

func heartbeatKey(id string) string { return "replica." + kvkey.Token(id) }

func (s *Store) record() (Record, []byte, error) {
	r := Record{Holder: s.o.Identity, Expires: s.o.Now().Add(s.o.TTL)}
	b, err := json.Marshal(r)
	return r, b, err
}

// Acquire takes the lease of key when it is free: missing (released),
// expired by this replica's clock for Skew past its expiry, unreadable, or
// this replica's own (an earlier tenure of this process whose revision
// nobody advanced). It returns nil, nil when another replica holds it, or
// took it first. Held.Previous tells what it took over.
func (s *Store) Acquire(ctx context.Context, key string) (*Held, error) {
	return s.take(ctx, key, false)
}

// Seize is Acquire for a process that knows it is the only one that can
// hold key (the watcher on its own embedded server): a record left by
// another holder is a run of the same process that crashed, taken over at
// once, expired or not. Held.Previous still tells what was there.
func (s *Store) Seize(ctx context.Context, key string) (*Held, error) {
	return s.take(ctx, key, true)
}

func (s *Store) take(ctx context.Context, key string, force bool) (*Held, error) {
	rec, body, err := s.record()
	if err != nil {
		return nil, fmt.Errorf("lease: encode %s: %w", key, err)
	}
	h := &Held{Key: key}
	cur, err := s.kv.Get(ctx, key)
	var rev uint64
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		rev, err = s.kv.Create(ctx, key, body)
	case err != nil:
		return nil, fmt.Errorf("lease: read %s: %w", key, err)
	default:
		var old Record
		readable := json.Unmarshal(cur.Value(), &old) == nil
		mine := readable && old.Holder == s.o.Identity
		if readable && !mine && !force && s.o.Now().Before(old.Expires.Add(s.o.Skew)) {
			return nil, nil // held by another replica
		}
		if readable {
			h.prev = old
		}
		h.crashed = !mine
		// Expired, unreadable or ours: take it over on the revision read,
		// so that of two replicas trying at once only one succeeds.
		rev, err = s.kv.Update(ctx, key, body, cur.Revision())
	}
	if conflict(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lease: take %s: %w", key, err)
	}
	h.set(rev, rec.Expires)
	return h, nil
}

// Renew extends a held lease, on the revision this replica last wrote: if
// another replica wrote the key since, the lease is lost (ErrLost); any
// other error (NATS away) leaves the lease as it was. A key found at a
// later revision of this replica's own (a renewal whose answer was lost,
// or a concurrent renewal) is adopted and renewed on.
func (s *Store) Renew(ctx context.Context, h *Held) error {
	rec, body, err := s.record()
	if err != nil {
		return fmt.Errorf("lease: encode %s: %w", h.Key, err)
	}
	rev, err := s.kv.Update(ctx, h.Key, body, h.Revision())
	if conflict(err) {
		cur, gerr := s.kv.Get(ctx, h.Key)
		if gerr == nil && s.mine(h, cur) {
			rev, err = s.kv.Update(ctx, h.Key, body, cur.Revision())
		}
	}
	if conflict(err) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("lease: renew %s: %w", h.Key, ErrLost)
	}
	if err != nil {
		return fmt.Errorf("lease: renew %s: %w", h.Key, err)
	}
	h.set(rev, rec.Expires)
	return nil
}

// Check is the fencing check made before each write the lease guards: the
// lease key still holds a revision this replica wrote (ErrLost if not), and
// the lease has not expired by this replica's clock (ErrExpired if it has);
// ErrUnreachable when the key cannot be read. A revision other than the
// one last recorded is this replica's when the record names it: a renewal
// in flight wrote it (the check read it before the renewal recorded it,
// or the check read the key just before the renewal's write landed). The
// read may be answered by a lagging replica of the bucket (KV buckets
// allow direct gets), so it can miss a take-over made a moment before;
// the snapshot store's compare-and-swap covers that window (see
// internal/app/lease.go).
func (s *Store) Check(ctx context.Context, h *Held) error {
	cur, err := s.kv.Get(ctx, h.Key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("lease %s released or deleted: %w", h.Key, ErrLost)
	}
	if err != nil {
		return fmt.Errorf("lease: check %s: %w: %w", h.Key, ErrUnreachable, err)
	}
	if !s.mine(h, cur) {
		return fmt.Errorf("lease %s at revision %d, ours was %d: %w", h.Key, cur.Revision(), h.Revision(), ErrLost)
	}
	if !s.o.Now().Before(h.Expires()) {
		return fmt.Errorf("lease %s expired at %s: %w", h.Key, h.Expires().Format(time.RFC3339Nano), ErrExpired)
	}
	return nil
}

// mine reports whether the lease key's entry cur was written by this
// holder: at the revision it recorded, or at another whose record names
// this replica (recorded when later than the one held).
func (s *Store) mine(h *Held, cur jetstream.KeyValueEntry) bool {
	if cur.Revision() == h.Revision() {
		return true
	}
	var r Record
	if json.Unmarshal(cur.Value(), &r) != nil || r.Holder != s.o.Identity {
		return false
	}
	h.set(cur.Revision(), r.Expires)
	return true
}

// Release gives a held lease up at once (on the revision this replica
// wrote: a lease another replica took meanwhile is left alone).
func (s *Store) Release(ctx context.Context, h *Held) error {
	err := s.kv.Delete(ctx, h.Key, jetstream.LastRevision(h.Revision()))
	if err != nil && !conflict(err) {
		return fmt.Errorf("lease: release %s: %w", h.Key, err)
	}
	return nil
}

// Heartbeat says this replica is alive until now + TTL.
func (s *Store) Heartbeat(ctx context.Context) error {
	_, body, err := s.record()
	if err != nil {
		return fmt.Errorf("lease: encode heartbeat: %w", err)
	}
	if _, err := s.kv.Put(ctx, heartbeatKey(s.o.Identity), body); err != nil {
		return fmt.Errorf("lease: heartbeat: %w", err)
	}
	return nil
}

// Leave removes this replica's heartbeat (a clean exit).
func (s *Store) Leave(ctx context.Context) error {
	if err := s.kv.Delete(ctx, heartbeatKey(s.o.Identity)); err != nil {
		return fmt.Errorf("lease: leave: %w", err)
	}
	return nil
}

// Live counts the replicas whose heartbeat has not expired, this one
// included (at least 1).
func (s *Store) Live(ctx context.Context) (int, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, "replica.>")
	if err != nil {
		return 1, fmt.Errorf("lease: list replicas: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	n, self := 0, false
	now := s.o.Now()
	for _, k := range keys {
		e, err := s.kv.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		var r Record
		if json.Unmarshal(e.Value(), &r) != nil || !now.Before(r.Expires) {
			continue
		}
		n++
		self = self || r.Holder == s.o.Identity
	}
	if !self {
		n++
	}
	return n, nil
}

func conflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
