package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// readRecord reads the JSON record under key and its revision; nil and 0
// when there is none. what names the record in errors.
func readRecord[T any](ctx context.Context, kv jetstream.KeyValue, what, key string) (*T, uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read %s %s: %w", what, key, err)
	}
	var r T
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, 0, fmt.Errorf("decode %s %s: %w", what, key, err)
	}
	return &r, e.Revision(), nil
}

// writeRecord creates the record (rev 0) or replaces revision rev, even
// while shutting down (bounded by finishTimeout), and returns the new
// revision; jetstream.ErrKeyExists says someone wrote in between.
func writeRecord(ctx context.Context, kv jetstream.KeyValue, what, key string, r any, rev uint64) (uint64, error) {
	val, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("encode %s %s: %w", what, key, err)
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if rev == 0 {
		rev, err = kv.Create(fctx, key, val)
	} else {
		rev, err = kv.Update(fctx, key, val, rev)
	}
	if err != nil {
		return 0, fmt.Errorf("write %s %s: %w", what, key, err)
	}
	return rev, nil
}

// createBucket creates (or updates) a KV bucket; what names it in errors.
func createBucket(ctx context.Context, js jetstream.JetStream, what, name, description string, ttl time.Duration) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, Description: description, TTL: ttl})
	if err != nil {
		return nil, fmt.Errorf("create %s bucket %s: %w", what, name, err)
	}
	return kv, nil
}
