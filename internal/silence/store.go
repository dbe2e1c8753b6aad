package silence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultBucket is the silences' KV bucket unless configured otherwise.
const DefaultBucket = "dcs_watcher_silences"

// Key layout of the bucket: silences under "s.<id>", what each hid under
// "h.<silence>.<project>.<task>" (catchup.go).
const (
	silencePrefix = "s."
	hiddenPrefix  = "h."
)

// markerTTL is how long the bucket keeps the marker of a key its TTL
// removed: long enough for every watcher to hear of the expiry.
const markerTTL = time.Minute

// ErrNotFound is Remove's error for an id no silence has.
var ErrNotFound = errors.New("no such silence")

// Store keeps the silences in a KV bucket, each key with a TTL that ends
// it at its End: a silence is gone from the bucket once it is over.
type Store struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// Open creates the bucket if missing (per-key TTL on) and returns its
// Store; now is the clock (nil: time.Now).
func Open(ctx context.Context, js jetstream.JetStream, bucket string, replicas int, now func() time.Time) (*Store, error) {
	if replicas < 1 {
		replicas = 1
	}
	if now == nil {
		now = time.Now
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         bucket,
		Description:    "DCS migration watcher: silences, and what each hid from Slack",
		History:        1,
		Replicas:       replicas,
		Storage:        jetstream.FileStorage,
		LimitMarkerTTL: markerTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("silence: open bucket %s: %w", bucket, err)
	}
	return &Store{kv: kv, now: now}, nil
}

// record is a silence as stored: its matchers as given, parsed again on
// every read, so that the stored form is what an operator typed.
type record struct {
	ID        string    `json:"id"`
	Match     []string  `json:"match"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Comment   string    `json:"comment,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Add stores a new silence of s.Matchers from s.Start (zero: now) to
// s.End, which must be in the future, and returns it with its id and
// CreatedAt set.
func (st *Store) Add(ctx context.Context, s Silence) (Silence, error) {
	now := st.now()
	m, err := ParseMatchers("--match", s.Matchers)
	if err != nil {
		return Silence{}, err
	}
	if s.Start.IsZero() {
		s.Start = now
	}
	if !s.End.After(now) || !s.End.After(s.Start) {
		return Silence{}, fmt.Errorf("silence: end %s must be after its start and after now", s.End.Format(time.RFC3339))
	}
	s.ID, s.Match, s.CreatedAt = newID(), m, now
	body, err := json.Marshal(record{ID: s.ID, Match: s.Matchers, Start: s.Start.UTC(), End: s.End.UTC(),
		Comment: s.Comment, CreatedBy: s.CreatedBy, CreatedAt: now.UTC()})
	if err != nil {
		return Silence{}, fmt.Errorf("silence: encode: %w", err)
	}
	// The server counts whole seconds: round up, so that the key outlives End.
	ttl := s.End.Sub(now).Truncate(time.Second) + time.Second
	if _, err := st.kv.Create(ctx, silencePrefix+s.ID, body, jetstream.KeyTTL(ttl)); err != nil {
		return Silence{}, fmt.Errorf("silence: store %s: %w", s.ID, err)
	}
	return s, nil
}

// List returns the silences not yet ended, by start then id. One that has
// ended but whose key the server has not yet removed is purged (and left
// out).
func (st *Store) List(ctx context.Context) ([]Silence, error) {
	keys, err := st.kv.ListKeysFiltered(ctx, silencePrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("silence: list: %w", err)
	}
	now := st.now()
	var out []Silence
	for k := range keys.Keys() {
		e, err := st.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired or removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("silence: read %s: %w", k, err)
		}
		s, err := decode(e.Value())
		if err != nil {
			return nil, fmt.Errorf("silence: %s: %w", k, err)
		}
		if !now.Before(s.End) {
			_ = st.kv.Purge(ctx, k) // the next List tries again
			continue
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Remove ends the silence id at once; ErrNotFound when there is none.
func (st *Store) Remove(ctx context.Context, id string) error {
	key := silencePrefix + id
	if strings.ContainsAny(id, ".*> ") || id == "" {
		return fmt.Errorf("silence %q: %w", id, ErrNotFound)
	}
	e, err := st.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("silence %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("silence: read %s: %w", id, err)
	}
	if err := st.kv.Purge(ctx, key, jetstream.LastRevision(e.Revision())); err != nil {
		return fmt.Errorf("silence: remove %s: %w", id, err)
	}
	return nil
}

func decode(b []byte) (Silence, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return Silence{}, fmt.Errorf("unreadable silence: %w", err)
	}
	m, err := ParseMatchers("match", r.Match)
	if err != nil {
		return Silence{}, err
	}
	return Silence{ID: r.ID, Match: m, Matchers: r.Match, Start: r.Start, End: r.End,
		Comment: r.Comment, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt}, nil
}
