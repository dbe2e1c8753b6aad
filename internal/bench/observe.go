package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Observer collects the events a stream stores from the moment it
// subscribes (an ordered consumer, delivering new messages only): for each,
// the task, its new raw status, and the time JetStream stored it. That time
// is when the event was acknowledged, the end of a detection. It is safe
// for concurrent use.
type Observer struct {
	cc  jetstream.ConsumeContext
	mu  sync.Mutex
	obs []Observation
}

// Observe subscribes to the messages of stream on filter.
func Observe(ctx context.Context, js jetstream.JetStream, stream, filter string) (*Observer, error) {
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("observe %s on %s: %w", filter, stream, err)
	}
	o := &Observer{}
	o.cc, err = cons.Consume(func(m jetstream.Msg) {
		if ob, ok := observation(m); ok {
			o.mu.Lock()
			o.obs = append(o.obs, ob)
			o.mu.Unlock()
		}
	})
	if err != nil {
		return nil, fmt.Errorf("observe %s on %s: %w", filter, stream, err)
	}
	return o, nil
}

// Stop ends the subscription.
func (o *Observer) Stop() { o.cc.Stop() }

// Count is the number of events seen so far.
func (o *Observer) Count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.obs)
}

// Observations returns a copy of the events seen so far.
func (o *Observer) Observations() []Observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.obs)
}

// observation reads an event envelope's task id and new raw status (only
// what matching needs, not the whole envelope) and the stored time.
func observation(m jetstream.Msg) (Observation, bool) {
	meta, err := m.Metadata()
	if err != nil {
		return Observation{}, false
	}
	var e struct {
		Data struct {
			TaskID        string `json:"task_id"`
			CurrentStatus struct {
				Raw string `json:"raw"`
			} `json:"current_status"`
		} `json:"data"`
	}
	if json.Unmarshal(m.Data(), &e) != nil {
		return Observation{}, false
	}
	return Observation{TaskID: e.Data.TaskID, Status: e.Data.CurrentStatus.Raw, At: meta.Timestamp}, true
}
