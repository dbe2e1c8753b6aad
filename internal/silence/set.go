package silence

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/notify"
)

// Set answers, from memory, which silence holds an event: the silences of
// the bucket, kept current by a watch, and the maintenance windows.
// It is safe for concurrent use.
type Set struct {
	windows []Window
	log     zerolog.Logger

	mu       sync.RWMutex
	silences []Silence // by id
}

// Watch loads the bucket's silences and keeps the returned Set current
// until ctx ends: a silence added or removed by any client is seen
// without a restart. It returns once the silences stored now are loaded.
func (st *Store) Watch(ctx context.Context, windows []Window, log zerolog.Logger) (*Set, error) {
	w, err := st.kv.Watch(ctx, silencePrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("silence: watch the silences: %w", err)
	}
	s := &Set{windows: windows, log: log}
	byID := map[string]Silence{}
	if err := loadWatch(ctx, w, "the silences", func(e jetstream.KeyValueEntry) { s.apply(byID, e) }); err != nil {
		return nil, err
	}
	s.publish(byID)
	go s.follow(ctx, w, byID)
	return s, nil
}

func (s *Set) follow(ctx context.Context, w jetstream.KeyWatcher, byID map[string]Silence) {
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, open := <-w.Updates():
			if !open {
				s.log.Error().Msg("silences watch closed: the set of silences no longer changes")
				return
			}
			if e != nil {
				s.apply(byID, e)
				s.publish(byID)
			}
		}
	}
}

// apply takes one change of the bucket into byID: a put adds or replaces
// its silence, a delete, a purge or an expiry removes it.
func (s *Set) apply(byID map[string]Silence, e jetstream.KeyValueEntry) {
	id := strings.TrimPrefix(e.Key(), silencePrefix)
	if e.Operation() != jetstream.KeyValuePut {
		delete(byID, id)
		return
	}
	sil, err := decode(e.Value())
	if err != nil {
		// Another writer's bad record: skipped, the rest still hold.
		s.log.Error().Err(err).Str("key", e.Key()).Msg("silence unreadable: ignored")
		delete(byID, id)
		return
	}
	byID[id] = sil
}

func (s *Set) publish(byID map[string]Silence) {
	list := make([]Silence, 0, len(byID))
	for _, sil := range byID {
		list = append(list, sil)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	s.mu.Lock()
	s.silences = list
	s.mu.Unlock()
}

// Silenced says which silence or window, if any, holds an event d
// observed at now: the first silence by id, then the first window in
// configuration order.
func (s *Set) Silenced(d notify.Data, now time.Time) (id string, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sil := range s.silences {
		if sil.ActiveAt(now) && sil.Match.Matches(d) {
			return sil.ID, true
		}
	}
	for _, w := range s.windows {
		if _, _, active := w.Active(now); active && w.Match.Matches(d) {
			return w.ID(), true
		}
	}
	return "", false
}

// ends says when the silence id, holding an event at t, ends, and the
// token that names this stretch of it in the catch-up keys (a window's
// activation is a stretch of its own); ok is false for a silence the set
// no longer has (removed, expired) or a window not active at t.
func (s *Set) ends(id string, t time.Time) (end time.Time, token string, ok bool) {
	if name, isWindow := strings.CutPrefix(id, WindowPrefix); isWindow {
		for _, w := range s.windows {
			if w.Name != name {
				continue
			}
			if start, end, active := w.Active(t); active {
				return end, fmt.Sprintf("window=%s=%d", name, start.Unix()), true
			}
		}
		return time.Time{}, "", false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sil := range s.silences {
		if sil.ID == id {
			return sil.End, id, true
		}
	}
	return time.Time{}, "", false
}

// has says whether the silence id is still in the set (a window always
// is: it ends by its record's end alone).
func (s *Set) has(id string) bool {
	if strings.HasPrefix(id, WindowPrefix) {
		return true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sil := range s.silences {
		if sil.ID == id {
			return true
		}
	}
	return false
}

// loadWatch feeds apply the values a KV watch starts with, until its
// marker of the end of them; what names them in the errors. A ctx that
// ends first stops the watch.
func loadWatch(ctx context.Context, w jetstream.KeyWatcher, what string, apply func(jetstream.KeyValueEntry)) error {
	for {
		select {
		case <-ctx.Done():
			_ = w.Stop()
			return fmt.Errorf("silence: load %s: %w", what, ctx.Err())
		case e, open := <-w.Updates():
			if !open {
				return fmt.Errorf("silence: load %s: watch closed", what)
			}
			if e == nil {
				return nil
			}
			apply(e)
		}
	}
}
