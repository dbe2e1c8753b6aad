package event_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/event"
)

// A durable pull consumer of the moments tasks fail, as the read-only user
// (". data/nats/reader.env" sets the variables): it decodes, handles and
// acks each event, and a restart goes on after the last ack.
// examples/consumer is this, complete.
func Example_consumer() {
	ctx := context.Background()
	nc, err := nats.Connect(os.Getenv("NATS_URL"), nats.UserInfo(os.Getenv("NATS_USER"), os.Getenv("NATS_PASSWORD")))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	c, err := js.CreateOrUpdateConsumer(ctx, event.DefaultStream, jetstream.ConsumerConfig{
		Durable:       "my-failures",
		FilterSubject: event.Subject{Kind: event.StatusChanged, Outcome: event.OutcomeFailed}.Filter(),
		AckPolicy:     jetstream.AckExplicitPolicy,
	})
	if err != nil {
		log.Fatal(err)
	}
	for {
		batch, err := c.Fetch(10)
		if err != nil {
			log.Fatal(err)
		}
		for m := range batch.Messages() {
			env, err := event.Decode(m.Data())
			if err != nil {
				log.Printf("skip %s: %v", m.Subject(), err)
				_ = m.Term() // it will not decode any better next time
				continue
			}
			fmt.Println(env.ID, env.Data.Summary()) // handle it: page, open a ticket, ...
			if err := m.DoubleAck(ctx); err != nil {
				log.Printf("ack %s: %v", env.ID, err) // it comes again after the ack wait
			}
		}
	}
}

// A consumer's filter: every event about a failed task, whatever the API's
// spelling of the failure, and only the moments tasks of one project fail.
func ExampleSubject_Filter() {
	fmt.Println(event.Subject{Outcome: event.OutcomeFailed}.Filter())
	fmt.Println(event.Subject{Project: "p1", Kind: event.StatusChanged, Outcome: event.OutcomeFailed}.Filter())
	fmt.Println(event.Subject{Prefix: "watch", Task: event.NoTask}.Filter())
	// Output:
	// dcs.migration.*.*.*.*.failed
	// dcs.migration.p1.*.status_changed.*.failed
	// watch.*._api.*.*.*
}

// The subject one event is published on.
func ExampleSubject_String() {
	s := event.Subject{Project: "p1", Task: "t.1", Kind: event.Removed, Outcome: event.OutcomeUnknown}
	fmt.Println(s.String())
	// Output: dcs.migration.p1.t_1.removed.NONE.unknown
}

// Decode a message body and act on its kind and outcome, with a default
// branch for what a newer watcher may add.
func ExampleDecode() {
	body := []byte(`{"specversion":"1.0","id":"8ce4c1f8bf558b8df92c84d6e886ce89",
		"source":"dcs://cn-north-4/projects/p1","type":"com.huaweicloud.dcs.migration.status_changed.v1",
		"subject":"t1","time":"2026-03-01T12:00:00Z","datacontenttype":"application/json",
		"data":{"kind":"status_changed","outcome":"failed","severity":"critical","project_id":"p1","task_id":"t1",
		"task_name":"orders-move","previous_status":{"raw":"FULLMIGRATING","normalized":"FULLMIGRATING","phase":"active","known":true},
		"current_status":{"raw":"MIGRATION_FAILED","normalized":"MIGRATION_FAILED","phase":"terminal","known":true},
		"a_field_of_a_newer_watcher":true}}`)
	env, err := event.Decode(body)
	if err != nil {
		fmt.Println("bad event:", err)
		return
	}
	switch {
	case env.Data.Kind == event.StatusChanged && env.Data.Outcome == event.OutcomeFailed:
		fmt.Println("failed:", env.Data.Summary(), "id", env.ID)
	default:
		fmt.Println("not for us:", env.Data.Kind)
	}
	// Output: failed: orders-move: FULLMIGRATING -> MIGRATION_FAILED id 8ce4c1f8bf558b8df92c84d6e886ce89
}

// A body of a version this package does not read is refused, not misread.
func ExampleDecode_version() {
	_, err := event.Decode([]byte(`{"specversion":"1.0","id":"x","type":"com.huaweicloud.dcs.migration.status_changed.v2","data":{"kind":"status_changed"}}`))
	fmt.Println(errors.Is(err, event.ErrVersion))
	fmt.Println(err)
	// Output:
	// true
	// unsupported event version: event x: type "com.huaweicloud.dcs.migration.status_changed.v2" is version v2, this package reads v1
}
