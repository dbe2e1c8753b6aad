package delivery

import (
	"strings"
	"testing"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/slackmsgtest"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/secret"
)

// Late reasons (see package slackmsgtest).
const lateText = slackmsgtest.LateText

var (
	reasonArrives = slackmsgtest.ReasonArrives
	descrChanged  = slackmsgtest.DescrChanged
)

// failedWithout is a FAILED of name whose reason the API had not given yet.
func failedWithout(id, name string) notify.Envelope {
	env := statusChanged(id, name, "FULLMIGRATING", "FAILED")
	env.Data.Snapshot.ErrorMessage = ""
	return env
}

// recovers is FAILED -> RUNNING whose snapshot still carries the old
// reason, as a row read before the API cleared it would.
func recovers(id, name string) notify.Envelope {
	env := statusChanged(id, name, "FAILED", "RUNNING")
	env.Data.Snapshot.ErrorMessage = lateText
	return env
}

// TestLateReasonWebhook: a reason that arrives after its FAILED is posted
// (changed is not in the default kinds) as a short message of that task,
// through the route the FAILED took; a changed of another field on a
// failed task is not; a recovery does not show the old reason.
func TestLateReasonWebhook(t *testing.T) {
	js := startJetStream(t)
	failures, other := newHook(t, nil), newHook(t, nil)
	publish(t, js, failedWithout("ev-failed", "orders"), reasonArrives("ev-reason", "orders"), descrChanged(), recovers("ev-running", "orders"))
	o := Options{NoGrouping: true, DefaultRoute: "other", Routes: []Route{
		{Name: "failures", Match: notify.Match{Kinds: []diff.Kind{diff.StatusChanged}, Severities: []notify.Severity{notify.SeverityCritical}}, Sender: slackwire.WebhookSender{URL: secret.Secret(failures.WebhookURL())}},
		{Name: "other", Sender: slackwire.WebhookSender{URL: secret.Secret(other.WebhookURL())}},
	}}
	r := startNotifier(t, js, nil, o)
	r.drained(t)

	if got := eventIDs(failures.Posts()); !equal(got, []string{"ev-failed", "ev-reason"}) {
		t.Fatalf("failures route received %v, want [ev-failed ev-reason]: the reason follows its FAILED", got)
	}
	msg := failures.Posts()[1].Msg
	all := texts(msg)
	if h := headerText(msg); h != ":x: orders: reason for the failure" {
		t.Errorf("header %q", h)
	}
	for _, want := range []string{"Failure reason", "source &lt;refused&gt; the sync", "orders: reason for the failure"} {
		if !strings.Contains(all, want) {
			t.Errorf("reason message lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "Changed fields") {
		t.Errorf("reason message lists the change as well:\n%s", all)
	}
	if got := eventIDs(other.Posts()); !equal(got, []string{"ev-running"}) {
		t.Fatalf("other route received %v, want [ev-running] (the description change is not posted)", got)
	}
	if all := texts(other.Posts()[0].Msg); strings.Contains(all, "refused") || strings.Contains(all, "Failure reason") {
		t.Errorf("the recovery shows the old reason:\n%s", all)
	}
}

// TestLateReasonBot: in bot mode the reason redraws the task's card (its
// last error) and is told in the thread; a recovery's card shows no old
// reason.
func TestLateReasonBot(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	publish(t, js, failedWithout("ev-failed", "orders"), reasonArrives("ev-reason", "orders"))
	r := startNotifier(t, js, nil, botOptions(f, oncall))
	r.drained(t)
	card := cardOf(t, f, oncall, "ev-failed")
	if blocks := unescapeJSON(card.Blocks); card.Updates != 1 || !strings.Contains(blocks, "Last error") || !strings.Contains(blocks, "source &lt;refused&gt; the sync") {
		t.Errorf("card (%d updates) does not show the late reason:\n%s", card.Updates, blocks)
	}
	replies := f.Replies(oncall, card.TS)
	if len(replies) != 1 {
		t.Fatalf("thread replies = %d, want the reason's 1", len(replies))
	}
	if b := unescapeJSON(replies[0].Blocks); !strings.Contains(b, "reason for the failure") || !strings.Contains(b, "the sync") || strings.Contains(b, "Changed fields") {
		t.Errorf("thread reply does not tell the reason (alone):\n%s", b)
	}

	publish(t, js, recovers("ev-running", "orders"))
	r.drained(t)
	card = cardOf(t, f, oncall, "ev-failed")
	if blocks := unescapeJSON(card.Blocks); !strings.Contains(blocks, "RUNNING") || strings.Contains(blocks, "Last error") || strings.Contains(blocks, "refused") {
		t.Errorf("recovered card shows the old reason:\n%s", blocks)
	}
	if rec := cardsRecord(t, js, "", oncall, task("orders", "").ID); rec.LastError != "" {
		t.Errorf("card record keeps last error %q after the recovery", rec.LastError)
	}
}
