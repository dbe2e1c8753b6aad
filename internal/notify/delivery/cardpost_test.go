package delivery

import (
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// TestBotFailureOpensCardWithLogTail: a failure that opens its task's
// card brings its ERROR log lines, which the card does not show, as a
// reply in the card's thread, once, also across a restart; a failure
// without log lines opens its card with no reply.
func TestBotFailureOpensCardWithLogTail(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	t0 := observed()
	failed := move("f1", "task-1", "orders-cache", "FULLMIGRATING", "FAILED", t0, 10*time.Minute)
	failed.Data.LogTail = []dcs.LogEntry{{Level: "ERROR", Message: "Failed to connect to the source Redis: connection refused.", Code: "DCS.MIG.1001"}}
	publish(t, js, failed, move("g1", "task-2", "users-cache", "FULLMIGRATING", "FAILED", t0, 10*time.Minute))
	r := startNotifier(t, js, nil, botOptions(f, oncall))
	r.drained(t)
	r.stop(t)
	startNotifier(t, js, nil, botOptions(f, oncall)).drained(t)

	card := cardOf(t, f, oncall, "f1")
	replies := f.Replies(oncall, card.TS)
	if len(replies) != 1 || !strings.Contains(unescapeJSON(replies[0].Blocks), "Failed to connect to the source Redis") {
		t.Errorf("card's thread: %v, want one reply with the log line", texts2(replies))
	}
	if ids := replyIDs(f, oncall, cardOf(t, f, oncall, "g1").TS); len(ids) != 0 {
		t.Errorf("failure without log lines: replies %v, want none", ids)
	}
	if top := f.TopLevel(oncall); len(top) != 2 {
		t.Errorf("top-level messages = %d, want the two cards", len(top))
	}
}
