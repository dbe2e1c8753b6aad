package delivery

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/testutil"
)

// BenchmarkMarkWrite measures the window in which a crash posts an event
// to Slack twice: between Slack's 200 and the delivery mark being stored
// (one KV put, as finish makes it, on an embedded server with file
// storage). The README's Guarantees quote it.
func BenchmarkMarkWrite(b *testing.B) {
	_, js := testutil.Connect(b, testutil.RunJetStream(b, -1, b.TempDir()).ClientURL())
	ctx := context.Background()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: defaults.Slack.MarksBucket, TTL: marksTTL})
	if err != nil {
		b.Fatal(err)
	}
	val, _ := json.Marshal(deliveryMark{SentAt: time.Now().UTC(), Subject: "dcs.migration.p.t.status_changed.FAILED.failed", StreamSeq: 1})
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := kv.Put(ctx, "m"+strconv.Itoa(i), val); err != nil {
			b.Fatal(err)
		}
	}
}
