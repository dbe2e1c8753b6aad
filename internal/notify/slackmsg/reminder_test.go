package slackmsg

import (
	"github.com/dcs-watcher/watcher/internal/diff"
	"strings"
	"testing"
	"time"
)

// TestReminderGolden: the reminder as a thread reply (bot mode) and as a
// message of its own (webhook mode), as Slack receives them.
func TestReminderGolden(t *testing.T) {
	d := move("r1", "task-1", "orders-cache", "INCRMIGEATING", "FAILED", observed(), 25*time.Minute).Data
	open := 4*time.Hour + 12*time.Minute
	golden(t, "reminder_reply.json", RenderReminderReply(d, open))
	golden(t, "reminder_webhook.json", RenderReminder(d, open))
}

// TestReminderSays: each reminder names how long the incident has been
// open, the status and the reason, escaped; the webhook one names the task.
func TestReminderSays(t *testing.T) {
	d := move("r1", "task-1", "orders-<cache>", "INCRMIGEATING", "FAILED", observed(), 25*time.Minute).Data
	open := 4*time.Hour + 12*time.Minute
	for name, msg := range map[string]string{
		"reply":   texts(RenderReminderReply(d, open)),
		"webhook": texts(RenderReminder(d, open)),
	} {
		for _, want := range []string{"Still failing after 4h12m", "`FAILED`", "source &lt;unreachable&gt; &amp; auth failed"} {
			if !strings.Contains(strings.ReplaceAll(msg, "still", "Still"), want) {
				t.Errorf("%s reminder does not say %q:\n%s", name, want, msg)
			}
		}
		if strings.Contains(msg, "<cache>") {
			t.Errorf("%s reminder shows the task name unescaped:\n%s", name, msg)
		}
	}
	if w := texts(RenderReminder(d, open)); !strings.Contains(w, "orders-&lt;cache&gt;") || !strings.Contains(w, "`task-1`") {
		t.Errorf("webhook reminder does not name the task:\n%s", w)
	}
}

// TestReminderOfAStall: a stall's reminder says the task is still stalled,
// and by what, not that it is failing.
func TestReminderOfAStall(t *testing.T) {
	d := move("r2", "task-2", "carts-sync", "RUNNING", "FULLMIGRATING", observed(), time.Minute).Data
	d.Kind = diff.Stalled
	d.Attention = &diff.Attention{Condition: diff.ProgressStalled, Status: "FULLMIGRATING"}
	for name, msg := range map[string]string{
		"reply":   texts(RenderReminderReply(d, time.Hour)),
		"webhook": texts(RenderReminder(d, time.Hour)),
	} {
		if !strings.Contains(msg, "till stalled (") || strings.Contains(msg, "failing") {
			t.Errorf("%s reminder of a stall:\n%s", name, msg)
		}
	}
}
