package statuspage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/state"
)

// Options say where the model reads from.
type Options struct {
	JS        jetstream.JetStream
	Bucket    string // the snapshot KV bucket (nats.kv_bucket)
	Stream    string // the events stream (nats.stream)
	Prefix    string // its subject prefix (nats.subject_prefix)
	Logger    zerolog.Logger
	Now       func() time.Time // "time in status"; default time.Now
	History   time.Duration    // how far back the stream is read at start; default 24h
	MaxEvents int              // recent events kept per task; default 20
	Retry     time.Duration    // pause before setting a failed watch up again; default 2s
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.History <= 0 {
		o.History = 24 * time.Hour
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 20
	}
	if o.Retry <= 0 {
		o.Retry = 2 * time.Second
	}
}

// wireEvent is the part of an envelope the model reads: the snapshot it
// carries is left undecoded (the KV bucket has it).
type wireEvent struct {
	Time time.Time `json:"time"`
	Data struct {
		Kind          string             `json:"kind"`
		Outcome       string             `json:"outcome"`
		ProjectID     string             `json:"project_id"`
		TaskID        string             `json:"task_id"`
		TaskName      string             `json:"task_name"`
		CurrentStatus *notify.StatusInfo `json:"current_status"`
		ObservedAt    *time.Time         `json:"observed_at"`
		Progress      *notify.Progress   `json:"progress"`
		Attention     *diff.Attention    `json:"attention"`
		Silenced      string             `json:"silenced"`
	} `json:"data"`
}

// Run watches the bucket and the stream until ctx ends. A watch that
// cannot be set up (NATS away, the bucket not created yet) is logged and
// tried again; Run returns only when ctx ends.
func (m *Model) Run(ctx context.Context) error {
	done := make(chan struct{}, 2)
	go func() { m.keep(ctx, "snapshot bucket", m.watchKV); done <- struct{}{} }()
	go func() { m.keep(ctx, "events stream", m.readStream); done <- struct{}{} }()
	<-done
	<-done
	return nil
}

// keep runs watch again after each failure until ctx ends.
func (m *Model) keep(ctx context.Context, what string, watch func(context.Context) error) {
	for {
		err := watch(ctx)
		if ctx.Err() != nil {
			return
		}
		m.opts.Logger.Warn().Err(err).Str("watch", what).Dur("retry_in", m.opts.Retry).
			Msg("status page: lost its watch, setting it up again")
		select {
		case <-ctx.Done():
			return
		case <-time.After(m.opts.Retry):
		}
	}
}

// watchKV reads every snapshot, then each update, until ctx ends.
func (m *Model) watchKV(ctx context.Context) error {
	kv, err := m.opts.JS.KeyValue(ctx, m.opts.Bucket)
	if err != nil {
		return fmt.Errorf("status page: open bucket %s: %w", m.opts.Bucket, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("status page: watch bucket %s: %w", m.opts.Bucket, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("status page: watch of bucket %s ended", m.opts.Bucket)
			}
			if e == nil {
				continue // the initial values are in
			}
			m.applyKV(e)
		}
	}
}

func (m *Model) applyKV(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		m.forget(e.Key())
		return
	}
	var rec state.Record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		m.opts.Logger.Warn().Err(err).Str("key", e.Key()).Uint64("revision", e.Revision()).
			Msg("status page: snapshot not readable, the task keeps its last view")
		return
	}
	m.applyRecord(e.Key(), rec)
}

// readStream reads the stream from History back, then each new event,
// with an ordered consumer (ephemeral, recreated by the client on a gap).
func (m *Model) readStream(ctx context.Context) error {
	// The stream's own timestamps are wall-clock, whatever clock the
	// watcher is given.
	start := time.Now().Add(-m.opts.History)
	cons, err := m.opts.JS.OrderedConsumer(ctx, m.opts.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{m.opts.Prefix + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if err != nil {
		return fmt.Errorf("status page: read stream %s: %w", m.opts.Stream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("status page: read stream %s: %w", m.opts.Stream, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) && ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("status page: read stream %s: %w", m.opts.Stream, err)
		}
		var e wireEvent
		if err := json.Unmarshal(msg.Data(), &e); err != nil {
			m.opts.Logger.Warn().Err(err).Str("subject", msg.Subject()).Msg("status page: event not readable, skipped")
			continue
		}
		m.applyEvent(e)
	}
}
