package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
)

// cardsTTL keeps a card record well beyond the life of a migration task; a
// task silent for longer opens a new card.
const cardsTTL = 90 * 24 * time.Hour

// cardRecord is what the watcher keeps of a task's card in one channel:
// where the card is (channel id and ts, so that a restart or another
// replica updates the same message and continues the same thread) and
// what it shows (slackmsg.Card), so that each update redraws it whole. It lives in the cards bucket under cardKey and every
// write is a compare-and-swap on the revision read.
type cardRecord struct {
	Channel string `json:"channel"` // id, as Slack answered
	// TS is the card's ts: the thread's parent, unless Thread is set; ""
	// while a task listed in a grouped message has no card yet.
	TS string `json:"ts"`
	// Thread is the ts of the grouped message that listed the task when
	// it had no card (see sendGroup): its card and transitions are
	// replies in that message's thread.
	Thread string `json:"thread,omitempty"`
	// OpenedBy is the event whose post opened the card (its metadata).
	OpenedBy string `json:"opened_by"`
	slackmsg.Card
}

// thread is where the task's transitions are replies.
func (r *cardRecord) thread() string {
	if r.Thread != "" {
		return r.Thread
	}
	return r.TS
}

// cards reads and writes card records.
type cards struct{ kv jetstream.KeyValue }

// cardKey names the card of a task for one destination (the lane of route) and
// channel (where): a route that moves to another channel opens new cards there.
func cardKey(route, where string, d notify.Data) string {
	sum := sha256.Sum256([]byte(route + "\x00" + where + "\x00" + d.ProjectID + "\x00" + d.TaskID))
	return "card." + hex.EncodeToString(sum[:16])
}

// read returns the record under key and its revision; nil and 0 when
// there is none.
func (c cards) read(ctx context.Context, key string) (*cardRecord, uint64, error) {
	return readRecord[cardRecord](ctx, c.kv, "card", key)
}

// write creates the record (rev 0) or replaces revision rev, and returns
// the new revision; jetstream.ErrKeyExists says someone wrote in between.
func (c cards) write(ctx context.Context, key string, r *cardRecord, rev uint64) (uint64, error) {
	return writeRecord(ctx, c.kv, "card", key, r, rev)
}
