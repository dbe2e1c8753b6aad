package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// rebuild serialises the recreation of a stream that someone deleted under
// a running watcher, so that the writers that meet the missing stream at
// the same time recreate it, and report it, once.
type rebuild struct {
	mu sync.Mutex
}

// send publishes one message with its id as Nats-Msg-Id, into the
// publisher's stream only. When nothing answers for the subject and the
// server confirms the stream does not exist, it recreates the stream from
// PublisherOptions.Recreate, reports it through OnRecreate (outside the
// lock: the report may itself publish) and publishes once more. Events the
// deleted stream held are gone for consumers that had not read them; the
// report says so, it cannot bring them back.
func (p *Publisher) send(ctx context.Context, subject string, body []byte, id string) (duplicate bool, err error) {
	pub := func() (bool, error) {
		ack, err := p.js.Publish(ctx, subject, body, jetstream.WithMsgID(id), jetstream.WithExpectStream(p.o.Stream))
		return err == nil && ack.Duplicate, err
	}
	duplicate, err = pub()
	if err == nil || p.o.Recreate.Name == "" ||
		!errors.Is(err, jetstream.ErrNoStreamResponse) && !errors.Is(err, nats.ErrNoResponders) {
		return duplicate, err
	}
	recreated, rerr := p.recreate(ctx)
	if rerr != nil {
		return false, errors.Join(err, rerr)
	}
	if recreated && p.o.OnRecreate != nil {
		p.o.OnRecreate(ctx, "stream "+p.o.Recreate.Name, err)
	}
	return pub()
}

// recreate creates the stream if the server says it does not exist; it
// reports whether it did. A stream that exists (another writer recreated
// it, or it was slow to answer) is left alone.
func (p *Publisher) recreate(ctx context.Context) (bool, error) {
	p.rb.mu.Lock()
	defer p.rb.mu.Unlock()
	name := p.o.Recreate.Name
	_, err := p.js.Stream(ctx, name)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return false, fmt.Errorf("notify: stream %s did not answer; looking it up: %w", name, err)
	}
	if _, err := EnsureStream(ctx, p.js, p.o.Recreate); err != nil {
		return false, fmt.Errorf("notify: recreate missing stream: %w", err)
	}
	return true, nil
}
