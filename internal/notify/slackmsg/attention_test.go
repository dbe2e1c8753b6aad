package slackmsg

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// rawPassword is a password in a log line that reached the renderer
// unscrubbed: the renderer scrubs again.
const rawPassword = "Hunter2Pw!"

// logTail is a failure's log tail as the poller gives it, with one line
// the client did not scrub, one with markup, one too long for a message.
func logTail() []dcs.LogEntry {
	at := observed()
	return []dcs.LogEntry{
		{CreatedAt: at.Add(-5 * time.Second).Format(time.RFC3339), Time: at.Add(-5 * time.Second), Level: "ERROR",
			Message: "connect to target failed: password=" + rawPassword + " host=10.0.0.9"},
		{CreatedAt: at.Add(-20 * time.Second).Format(time.RFC3339), Time: at.Add(-20 * time.Second), Level: "ERROR",
			Message: "target refused <!channel> & ```writes```"},
		{CreatedAt: "2026/03/01 11:58:00", Level: "ERROR", Message: "replication stream broken: " + strings.Repeat("x", 1000)},
	}
}

// attentionEnvelope is a stalled or resumed event of a as the publisher
// builds it, the task in status.
func attentionEnvelope(kind diff.Kind, a diff.Attention, status string, at time.Time) notify.Envelope {
	tk := task("orders-cache-move", status)
	ev := diff.StalledEvent(tk.ID, a, tk)
	if kind == diff.Resumed {
		ev = diff.ResumedEvent(tk.ID, a, tk)
	}
	return notify.Build(prefix, ev, notify.Meta{Region: "cn-north-4", ProjectID: project, ObservedAt: at})
}

func attentionMessages(t *testing.T) map[string]slack.WebhookMessage {
	t.Helper()
	at := observed()
	pct, lag, from, limit, cleared := 63.0, int64(2000), int64(1000), int64(1500), int64(1200)
	stall := diff.Attention{Condition: diff.ProgressStalled, Episode: 1, Since: at.Add(-20 * time.Minute), Percent: &pct,
		Status: "FULLMIGRATING", AllowedSeconds: 900}
	stalled := attentionEnvelope(diff.Stalled, stall, "FULLMIGRATING", at)
	stalled.Data.LogTail = logTail()
	back := stall
	end := at.Add(25 * time.Minute)
	back.ClearedAt, back.ClearedBy = &end, diff.ClearedRecovered
	high := diff.Attention{Condition: diff.LagHigh, Episode: 2, Since: at, Lag: &lag, MaxLag: &limit, Status: "INCRMIGEATING"}
	grow := diff.Attention{Condition: diff.LagGrowing, Episode: 3, Since: at.Add(-10 * time.Minute), Lag: &lag, LagFrom: &from,
		Status: "INCRMIGEATING", AllowedSeconds: 600}
	growBack := grow
	growBack.ClearedAt, growBack.ClearedBy, growBack.ClearedLag = &end, diff.ClearedRecovered, &cleared
	long := diff.Attention{Condition: diff.StatusTooLong, Episode: 4, Since: at.Add(-61 * time.Minute), Status: "RUNNING", AllowedSeconds: 3600}
	longEnd := long
	longEnd.ClearedAt, longEnd.ClearedBy = &end, diff.ClearedStatusChanged

	failed := envelope("ev-failed-tail", diff.StatusChanged, task("orders-cache-move", "FULLMIGRATING"), task("orders-cache-move", "FAILED"), 2*time.Hour)
	failed.Data.LogTail = logTail()
	noTail := envelope("ev-failed-notail", diff.StatusChanged, task("orders-cache-move", "FULLMIGRATING"), task("orders-cache-move", "FAILED"), 2*time.Hour)
	noTail.Data.LogTailError = "unavailable"

	card := &Card{}
	card.Apply(envelope("ev-disc", diff.Discovered, nil, task("orders-cache-move", "FULLMIGRATING"), 0))
	card.Apply(stalled)
	stalledCard := RenderCard(card)
	card.Apply(attentionEnvelope(diff.Resumed, back, "FULLMIGRATING", end))
	resumedCard := RenderCard(card)

	return map[string]slack.WebhookMessage{
		"stalled_progress_stalled":     Render(stalled),
		"resumed_progress_stalled":     Render(attentionEnvelope(diff.Resumed, back, "FULLMIGRATING", end)),
		"stalled_lag_high":             Render(attentionEnvelope(diff.Stalled, high, "INCRMIGEATING", at)),
		"stalled_lag_growing":          Render(attentionEnvelope(diff.Stalled, grow, "INCRMIGEATING", at)),
		"resumed_lag_growing":          Render(attentionEnvelope(diff.Resumed, growBack, "INCRMIGEATING", end)),
		"stalled_status_too_long":      Render(attentionEnvelope(diff.Stalled, long, "RUNNING", at)),
		"resumed_status_too_long":      Render(attentionEnvelope(diff.Resumed, longEnd, "MIGRATING", end)),
		"status_changed_failed_tail":   Render(failed),
		"status_changed_failed_notail": Render(noTail),
		"reply_status_changed_failed":  RenderReply(failed),
		"reply_stalled":                RenderReply(stalled),
		"card_stalled":                 stalledCard,
		"card_resumed":                 resumedCard,
	}
}

// TestAttentionGolden: the messages of stalled and resumed events, a
// failure with its log tail (or the logs call's failure), and the card of
// a stalled task, as Slack receives them; within Slack's limits, with the
// log lines escaped and scrubbed.
func TestAttentionGolden(t *testing.T) {
	msgs := attentionMessages(t)
	names := make([]string, 0, len(msgs))
	for name := range msgs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			msg := msgs[name]
			checkLimits(t, msg)
			all := texts(msg)
			if strings.Contains(all, rawPassword) || strings.Contains(all, "<!channel>") {
				t.Errorf("message holds the raw password or a live mention:\n%s", all)
			}
			golden(t, filepath.Join("golden", "attention", name+".json"), msg)
		})
	}
	tail := texts(msgs["status_changed_failed_tail"])
	for _, want := range []string{"Last ERROR log lines", "password=&lt;secret&gt; host=10.0.0.9", "&lt;!channel&gt; &amp; '''writes'''", "…"} {
		if !strings.Contains(tail, want) {
			t.Errorf("failure message lacks %q:\n%s", want, tail)
		}
	}
	if c := texts(msgs["card_stalled"]); !strings.Contains(c, "Needs a look") || !strings.Contains(c, "full sync stalled at 63%") ||
		!strings.HasPrefix(headerText(msgs["card_stalled"]), emojiStalled) {
		t.Errorf("stalled card does not say so:\n%s", c)
	}
	if c := texts(msgs["card_resumed"]); strings.Contains(c, "Needs a look") || strings.HasPrefix(headerText(msgs["card_resumed"]), emojiStalled) {
		t.Errorf("resumed card still says stalled:\n%s", c)
	}
}
