package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/diff"
)

// StreamOptions describes the events stream.
type StreamOptions struct {
	Name   string
	Prefix string
	// Duplicates is JetStream's duplicate window: long enough to cover a
	// restart, so a change re-detected after a crash is dropped.
	Duplicates time.Duration
	MaxAge     time.Duration
	Replicas   int
}

// EnsureStream creates the stream over "<prefix>.>" or updates it to match.
func EnsureStream(ctx context.Context, js jetstream.JetStream, o StreamOptions) (jetstream.Stream, error) {
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        o.Name,
		Description: "DCS migration-task events (CloudEvents 1.0 JSON)",
		Subjects:    []string{o.Prefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  o.Duplicates,
		MaxAge:      o.MaxAge,
		Replicas:    o.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("notify: ensure stream %s on %s.>: %w", o.Name, o.Prefix, err)
	}
	return s, nil
}

// Publisher owns the envelope: it wraps diff events in CloudEvents
// envelopes for its subject prefix and region, publishes them to the stream
// and waits for JetStream's ack.
type Publisher struct {
	js jetstream.JetStream
	o  PublisherOptions
	// rb recreates the stream if it disappears (recover.go); shared by the
	// publishers ForRegion makes, so that they recreate it once.
	rb *rebuild
}

// PublisherOptions say where events go and what their envelope names.
type PublisherOptions struct {
	Stream string // the stream every event must land in
	Prefix string // subject prefix, e.g. "dcs.migration"
	Region string // the region named in each envelope's source
	// Recreate, when its Name is set, is the stream to recreate when a
	// publish finds it missing; OnRecreate hears of it (recover.go).
	Recreate   StreamOptions
	OnRecreate func(ctx context.Context, what string, cause error)
}

// NewPublisher publishes into o.Stream.
func NewPublisher(js jetstream.JetStream, o PublisherOptions) *Publisher {
	return &Publisher{js: js, o: o, rb: &rebuild{}}
}

// ForRegion is a publisher into the same stream whose envelopes name
// region: one per watched project, since each project is in a region of
// its own. It shares the recreation of a missing stream with p.
func (p *Publisher) ForRegion(region string) *Publisher {
	o := p.o
	o.Region = region
	return &Publisher{js: p.js, o: o, rb: p.rb}
}

// Envelope wraps ev in the envelope Publish sends; m.Region is the
// publisher's.
func (p *Publisher) Envelope(ev diff.Event, m Meta) Envelope {
	m.Region = p.o.Region
	return Build(p.o.Prefix, ev, m)
}

// Publish sends env and returns once JetStream has stored it (or recognised
// it as a duplicate of an id it already holds, which is success too).
func (p *Publisher) Publish(ctx context.Context, env Envelope) error {
	body, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("notify: encode event %s: %w", env.ID, err)
	}
	_, err = p.SendStored(ctx, env.NATSSubject, env.ID, body)
	return err
}

// SendStored publishes the JSON body of an envelope encoded earlier (an
// outbox stores it so), as it is, on subject with id as its Nats-Msg-Id,
// and says whether JetStream already held the id (duplicate: stored
// before, by this process whose ack was lost or by another replica).
func (p *Publisher) SendStored(ctx context.Context, subject, id string, body []byte) (duplicate bool, err error) {
	if subject == "" {
		return false, fmt.Errorf("notify: event %s has no NATS subject", id)
	}
	duplicate, err = p.send(ctx, subject, body, id)
	if err != nil {
		return false, fmt.Errorf("notify: publish event %s on %s: %w", id, subject, err)
	}
	return duplicate, nil
}
