package slackact

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/kvkey"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
)

// Kinds of records, the first token of their keys.
const (
	kindAck     = "ack"
	kindSilence = "silence"
	kindLog     = "log"
)

// logAgain is how soon Show log may post again for the same incident:
// a double click posts once, a look an hour later posts again.
const logAgain = time.Minute

// Record is what a click did for a task's incident: who, when, and for a
// silence its id and end. One record per kind and task lives in the
// actions bucket under "<kind>.<project>.<task>"; a newer incident
// replaces it.
type Record struct {
	Incident  string    `json:"incident"`
	By        string    `json:"by"` // Slack user id
	At        time.Time `json:"at"`
	SilenceID string    `json:"silence_id,omitempty"`
	Until     time.Time `json:"until,omitzero"`
}

// Key is the key of the record of kind for a task.
func Key(kind, project, task string) string {
	return kind + "." + kvkey.Token(project) + "." + kvkey.Token(task)
}

// Store reads and writes the records of the actions bucket. Every write
// is a create or a compare-and-swap, so that two replicas handling the
// same click (or two clicks) agree on one.
type Store struct{ KV jetstream.KeyValue }

// read is the record under key and its revision; nil and 0 when there is
// none.
func (s Store) read(ctx context.Context, key string) (*Record, uint64, error) {
	e, err := s.KV.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, 0, nil
	case err != nil:
		return nil, 0, fmt.Errorf("read %s: %w", key, err)
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return &r, e.Revision(), nil
}

// claim writes rec under key unless the record there is of the same
// incident and, with a window, younger than it: then the click is a
// repeat, and claim returns the record that stands (rev 0). A claim won
// returns the revision written.
func (s Store) claim(ctx context.Context, key string, rec Record, window time.Duration) (uint64, *Record, error) {
	val, err := json.Marshal(rec)
	if err != nil {
		return 0, nil, fmt.Errorf("encode %s: %w", key, err)
	}
	for range 5 {
		rev, err := s.KV.Create(ctx, key, val)
		if err == nil {
			return rev, nil, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, nil, fmt.Errorf("create %s: %w", key, err)
		}
		prev, prevRev, err := s.read(ctx, key)
		if err != nil {
			return 0, nil, err
		}
		if prev == nil {
			continue // deleted in between: create again
		}
		if prev.Incident == rec.Incident && (window == 0 || rec.At.Before(prev.At.Add(window))) {
			return 0, prev, nil
		}
		rev, err = s.KV.Update(ctx, key, val, prevRev)
		if err == nil {
			return rev, nil, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return 0, nil, fmt.Errorf("update %s: %w", key, err)
		}
	}
	return 0, nil, fmt.Errorf("claim %s: the record kept changing", key)
}

// replace writes rec over revision rev (a claim's, completed).
func (s Store) replace(ctx context.Context, key string, rec Record, rev uint64) error {
	val, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if _, err := s.KV.Update(ctx, key, val, rev); err != nil {
		return fmt.Errorf("update %s: %w", key, err)
	}
	return nil
}

// release undoes a claim whose action failed, so that the next click
// tries again; a record written since stays.
func (s Store) release(ctx context.Context, key string, rev uint64) error {
	if err := s.KV.Delete(ctx, key, jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("release %s: %w", key, err)
	}
	return nil
}

// Acknowledged is the acknowledgement of a task's incident; nil when
// nobody has acknowledged it. Reminders stop on one.
func (s Store) Acknowledged(ctx context.Context, project, task, incident string) (*Record, error) {
	r, _, err := s.read(ctx, Key(kindAck, project, task))
	if err != nil || r == nil || r.Incident != incident {
		return nil, err
	}
	return r, nil
}

// Attention is what the card of a task's incident shows of the clicks:
// its acknowledgement, and its silence while it runs at now; with the
// buttons flag and console link of the caller's.
func (s Store) Attention(ctx context.Context, project, task, incident string, now time.Time) (slackmsg.Attention, error) {
	var a slackmsg.Attention
	if incident == "" {
		return a, nil
	}
	ack, err := s.Acknowledged(ctx, project, task, incident)
	if err != nil {
		return a, err
	}
	if ack != nil {
		a.AckBy, a.AckAt = ack.By, ack.At
	}
	sil, _, err := s.read(ctx, Key(kindSilence, project, task))
	if err != nil {
		return a, err
	}
	if sil != nil && sil.Incident == incident && sil.SilenceID != "" && now.Before(sil.Until) {
		a.SilenceID, a.SilencedUntil = sil.SilenceID, sil.Until
	}
	return a, nil
}
