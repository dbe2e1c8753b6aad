package e2e

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/broker"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestStrangerCannotForge replays the attack on the embedded NATS: a local
// program publishes a forged status_changed.FAILED event for Slack to post.
// Without credentials it cannot connect; as the read-only user its publish
// is refused, never reaches the stream, and Slack posts only the real
// change that follows. No generated password reaches the watcher's logs.
func TestStrangerCannotForge(t *testing.T) {
	h := newHarness(t, e2eScenario, nil)
	if nc, err := nats.Connect(h.app.Broker.ClientURL(), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("a client without credentials connected to the embedded NATS")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("stranger refused with %v, want an authorization violation", err)
	}

	reader, err := broker.ReaderCredentials(h.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var refused []error
	nc, err := nats.Connect(h.app.Broker.ClientURL(), nats.UserInfo(reader.User, reader.Password.Reveal()),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			mu.Lock()
			defer mu.Unlock()
			refused = append(refused, err)
		}))
	if err != nil {
		t.Fatalf("the read-only user cannot connect: %v", err)
	}
	defer nc.Close()

	forgedTask := &dcs.Task{ID: taskB, Name: "FORGED-by-a-stranger", Status: "FAILED", ErrorMessage: "<!channel> pay here"}
	was := *forgedTask
	was.Status = "MIGRATING"
	env := notify.Build(h.cfg.NATS.SubjectPrefix, diff.Event{ID: "forged", Kind: diff.StatusChanged, TaskID: taskB, Prev: &was, Curr: forgedTask},
		notify.Meta{ProjectID: project, ObservedAt: h.t0})
	body, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	subject := h.cfg.NATS.SubjectPrefix + "." + project + "." + taskB + ".status_changed.FAILED"
	if err := nc.Publish(subject, body); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the server to refuse the forged event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, err := range refused {
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), subject) {
				return true
			}
		}
		return false
	})

	// A real change: Slack posts it, and would have posted the forged
	// event, published earlier on the same stream, before it.
	h.cycleAt(0)
	h.cycleAt(10 * time.Second)
	testutil.Eventually(t, "Slack to post the real change", func() bool {
		for _, text := range h.slack.texts() {
			if strings.Contains(text, "orders-move") {
				return true
			}
		}
		return false
	})
	for _, raw := range h.slack.bodies() {
		if strings.Contains(raw, "FORGED") {
			t.Errorf("Slack posted the forged event: %s", raw)
		}
	}
	stream, err := h.app.Broker.JS.Stream(h.ctx, h.cfg.NATS.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.GetLastMsgForSubject(h.ctx, subject); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("the forged event reached the stream (%v)", err)
	}

	watcher, err := broker.WatcherCredentials(h.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{reader.Password.Reveal(), watcher.Password.Reveal()} {
		if strings.Contains(h.logs.String(), pw) {
			t.Error("a generated NATS password is in the watcher's logs")
		}
	}
}
