package delivery

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackact"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackapi"
)

// newListener is the buttons' listener over a fresh actions bucket (not
// connected: only what it tells the cards is used).
func newListener(t *testing.T, js jetstream.JetStream) (*slackact.Listener, jetstream.KeyValue) {
	t.Helper()
	kv, err := js.CreateOrUpdateKeyValue(testutil.Context(t, waitFor), jetstream.KeyValueConfig{Bucket: "test_actions"})
	if err != nil {
		t.Fatal(err)
	}
	return slackact.New(slackact.Options{Bucket: kv}), kv
}

// currentCard is the message at ts in channel, as the fake holds it now.
func currentCard(t *testing.T, f *slackapi.Server, channel, ts string) slackapi.Message {
	t.Helper()
	for _, m := range f.TopLevel(channel) {
		if m.TS == ts {
			return m
		}
	}
	t.Fatalf("no message %s in %s", ts, channel)
	return slackapi.Message{}
}

// TestBotCardButtons: with a buttons source a failure card has the
// Acknowledge button; once an acknowledgement is recorded, Redraw of that
// card shows who acknowledged and drops the button, and a Redraw naming
// another ts (an older card) redraws nothing.
func TestBotCardButtons(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	l, actions := newListener(t, js)
	o := botOptions(f, oncall)
	o.Buttons = l
	publish(t, js, move("b1", "task-1", "orders-cache", "INCRMIGEATING", "FAILED", observed(), time.Minute))
	r := startNotifier(t, js, nil, o)
	r.drained(t)

	card := cardOf(t, f, oncall, "b1")
	if !strings.Contains(string(card.Blocks), slackmsg.ActionAcknowledge) {
		t.Fatalf("failure card has no Acknowledge button:\n%s", card.Blocks)
	}
	ctx := testutil.Context(t, waitFor)
	kv, err := js.KeyValue(ctx, defaults.Slack.CardsBucket)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := cards{kv: kv}.read(ctx, cardKey("", oncall, notify.Data{ProjectID: project, TaskID: "task-1"}))
	if err != nil || rec == nil {
		t.Fatalf("card record: %v, %v", rec, err)
	}
	ack, _ := json.Marshal(slackact.Record{Incident: slackmsg.Incident(&rec.Card), By: "U0ALICE", At: observed().Add(time.Hour)})
	if _, err := actions.Put(ctx, slackact.Key("ack", project, "task-1"), ack); err != nil {
		t.Fatal(err)
	}

	ref := slackact.CardRef{Channel: card.Channel, TS: "1.000001", Project: project, TaskID: "task-1"}
	if err := r.Redraw(ctx, ref); err != nil {
		t.Fatalf("Redraw of another card: %v", err)
	}
	if got := currentCard(t, f, oncall, card.TS); got.Updates != 0 {
		t.Errorf("a Redraw naming another ts updated the card %d times, want 0", got.Updates)
	}
	ref.TS = card.TS
	if err := r.Redraw(ctx, ref); err != nil {
		t.Fatalf("Redraw: %v", err)
	}
	got := currentCard(t, f, oncall, card.TS)
	blocks := unescapeJSON(got.Blocks)
	if got.Updates != 1 || !strings.Contains(blocks, "Acknowledged by <@U0ALICE>") {
		t.Errorf("after Redraw: %d updates, want 1, showing who acknowledged:\n%s", got.Updates, blocks)
	}
	if strings.Contains(blocks, slackmsg.ActionAcknowledge) {
		t.Errorf("an acknowledged card still offers Acknowledge:\n%s", blocks)
	}
}

// TestRedrawWaitsForTheCardRecord: a click can come between the card's
// post and the save of its record (which needs the ts Slack answered);
// Redraw then waits for the record instead of leaving the card
// unredrawn. The record is taken away and put back only once Redraw has
// asked the bucket for it (seen on the wire: its get request).
func TestRedrawWaitsForTheCardRecord(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	l, actions := newListener(t, js)
	o := botOptions(f, oncall)
	o.Buttons = l
	publish(t, js, move("b1", "task-1", "orders-cache", "INCRMIGEATING", "FAILED", observed(), time.Minute))
	r := startNotifier(t, js, nil, o)
	r.drained(t)
	card := cardOf(t, f, oncall, "b1")

	ctx := testutil.Context(t, waitFor)
	kv, err := js.KeyValue(ctx, defaults.Slack.CardsBucket)
	if err != nil {
		t.Fatal(err)
	}
	key := cardKey("", oncall, notify.Data{ProjectID: project, TaskID: "task-1"})
	saved, err := kv.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := cards{kv: kv}.read(ctx, key)
	if err != nil || rec == nil {
		t.Fatalf("card record: %v, %v", rec, err)
	}
	ack, _ := json.Marshal(slackact.Record{Incident: slackmsg.Incident(&rec.Card), By: "U0ALICE", At: observed().Add(time.Hour)})
	if _, err := actions.Put(ctx, slackact.Key("ack", project, "task-1"), ack); err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, key); err != nil {
		t.Fatal(err)
	}
	gets := make(chan struct{}, 64)
	bucket := "KV_" + defaults.Slack.CardsBucket
	for _, subj := range []string{"$JS.API.DIRECT.GET." + bucket + ".>", "$JS.API.DIRECT.GET." + bucket, "$JS.API.STREAM.MSG.GET." + bucket} {
		sub, err := js.Conn().Subscribe(subj, func(*nats.Msg) {
			select {
			case gets <- struct{}{}:
			default:
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	if err := js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		done <- r.Redraw(ctx, slackact.CardRef{Channel: card.Channel, TS: card.TS, Project: project, TaskID: "task-1"})
	}()
	select {
	case <-gets:
	case err := <-done:
		t.Fatalf("Redraw returned (%v) without reading the card record", err)
	case <-ctx.Done():
		t.Fatal("Redraw never read the card record")
	}
	if _, err := kv.Put(ctx, key, saved.Value()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Redraw: %v", err)
	}
	got := currentCard(t, f, oncall, card.TS)
	if blocks := unescapeJSON(got.Blocks); got.Updates != 1 || !strings.Contains(blocks, "Acknowledged by <@U0ALICE>") {
		t.Errorf("a click before the card's record was saved: %d updates, want 1, showing who acknowledged:\n%s", got.Updates, blocks)
	}
}

// TestBotCardButtonsUnreadable: when what the buttons did cannot be read
// (the actions bucket is gone) the card still has its buttons; without a
// buttons source it has none.
func TestBotCardButtonsUnreadable(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	l, _ := newListener(t, js)
	if err := js.DeleteKeyValue(testutil.Context(t, waitFor), "test_actions"); err != nil {
		t.Fatal(err)
	}
	withButtons := botOptions(f, oncall)
	withButtons.Buttons = l
	publish(t, js, move("u1", "task-1", "orders-cache", "INCRMIGEATING", "FAILED", observed(), time.Minute))
	r := startNotifier(t, js, nil, withButtons)
	r.drained(t)
	if card := cardOf(t, f, oncall, "u1"); !strings.Contains(string(card.Blocks), slackmsg.ActionsBlockID) {
		t.Errorf("card drawn while the clicks are unreadable has no buttons:\n%s", card.Blocks)
	}
	r.stop(t)

	plain := botOptions(f, failuresC)
	plain.Consumer = "plain"
	publish(t, js, move("u2", "task-2", "users-cache", "INCRMIGEATING", "FAILED", observed(), time.Minute))
	p := startNotifier(t, js, nil, plain)
	p.drained(t)
	if card := cardOf(t, f, failuresC, "u2"); strings.Contains(string(card.Blocks), slackmsg.ActionsBlockID) {
		t.Errorf("card without a buttons source has buttons:\n%s", card.Blocks)
	}
}
