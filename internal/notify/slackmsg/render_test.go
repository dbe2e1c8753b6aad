package slackmsg

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/slackmsgtest"
)

func TestRender(t *testing.T) {
	failed := task("orders-cache-move", "FAILED")
	failed.ErrorMessage = "source instance unreachable: connection reset"
	unnamed := task("", "SUCCESS")
	tsc := envelope("e7", diff.TaskStatusChanged, task("orders-cache-move", "MIGRATING"), task("orders-cache-move", "MIGRATING"), 0)
	tsc.Data.Scope = diff.ScopeTask
	tsc.Data.Changes = []diff.FieldChange{{Field: "task_status", Old: "", New: "EXCHANGING"}}
	degraded := notify.Build(prefix, diff.Event{ID: "e4", Kind: diff.WatchDegraded, TaskID: "a1b2", Prev: task("orders-cache-move", "FULLMIGRATING"),
		Reason: "throttled: APIGW.0308 the API is throttled"}, notify.Meta{ProjectID: project, ObservedAt: observed()})
	recovered := notify.Build(prefix, diff.Event{ID: "e5", Kind: diff.WatchRecovered, TaskID: "a1b2", Curr: task("orders-cache-move", "FULLMIGRATING"),
		Reason: "throttled: APIGW.0308 the API is throttled"}, notify.Meta{ProjectID: project, ObservedAt: observed()})

	apiDown := notify.Build(prefix, diff.Event{ID: "e8", Kind: diff.WatchDegraded,
		Reason: "unavailable: HTTP 500 DCS.5000"}, notify.Meta{ProjectID: project, ObservedAt: observed()})
	srcTSC := envelope("e9", diff.TaskStatusChanged, task("orders-cache-move", "MIGRATING"), task("orders-cache-move", "FULLMIGRATING"), 0)
	srcTSC.Data.Scope = diff.ScopeSource
	srcTSC.Data.Changes = []diff.FieldChange{
		{Field: "source_instance.task_status", Old: "", New: "RUNNING"},
		{Field: "status", Old: "MIGRATING", New: "FULLMIGRATING"},
	}

	tests := []struct {
		name    string
		env     notify.Envelope
		header  []string // substrings of the header
		body    []string // substrings of all texts
		notBody []string
		text    string // the fallback, exactly; "" to skip
	}{
		{
			name:   "full to incremental",
			env:    statusChanged("e1", "orders-cache-move", "FULLMIGRATING", "INCRMIGEATING"),
			header: []string{":arrows_counterclockwise:", "orders-cache-move: FULLMIGRATING -> INCRMIGEATING"},
			body: []string{"*Project*\n`" + project + "`", "*Task ID*\n`a1b2c3d4-0000-4000-8000-000000000001`",
				"*Kind*\nstatus_changed", "*Status*\n`FULLMIGRATING` -> `INCRMIGEATING`",
				"*Source*\nredis-src\n`192.168.0.10:6379`", "*Target*\nredis-dst\n`192.168.0.20:6379`",
				"*Time in previous status*\n3m12s", "event `e1`", "observed 2026-03-01T12:00:00Z"},
			notBody: []string{"unknown status", "Failure reason", "Changed fields"},
			text:    "orders-cache-move: FULLMIGRATING -> INCRMIGEATING (project " + project + ")",
		},
		{
			name:    "failed with the API's error message",
			env:     envelope("e2", diff.StatusChanged, task("orders-cache-move", "MIGRATING"), failed, 2*time.Hour+5*time.Minute),
			header:  []string{":x:", "MIGRATING -> FAILED"},
			body:    []string{"*Failure reason*\n```source instance unreachable: connection reset```", "*Time in previous status*\n2h5m"},
			notBody: []string{"unknown status"},
		},
		{
			name:   "unknown status is flagged",
			env:    statusChanged("e3", "orders-cache-move", "MIGRATING", "PAUSED"),
			header: []string{":warning:", "MIGRATING -> PAUSED (unknown status)"},
			body:   []string{"`MIGRATING` -> `PAUSED` (unknown status)"},
		},
		{
			name:    "prose spelling of incremental is known, and shown as spelled",
			env:     statusChanged("e3b", "orders-cache-move", "FULLMIGRATING", "INCRMIGRATING"),
			header:  []string{":arrows_counterclockwise:", "FULLMIGRATING -> INCRMIGRATING"},
			notBody: []string{"unknown status"},
		},
		{
			name:   "the API as a whole cannot be seen",
			env:    apiDown,
			header: []string{":warning:", "DCS API: watcher cannot see the DCS API"},
			body:   []string{"unavailable: HTTP 500 DCS.5000"},
		},
		{
			name:   "an instance's task_status among other changes",
			env:    srcTSC,
			header: []string{"source_instance.task_status: (none) -> RUNNING"},
		},
		{
			name:   "success",
			env:    statusChanged("e3c", "orders-cache-move", "FULLMIGRATING", "SUCCESS"),
			header: []string{":white_check_mark:", "FULLMIGRATING -> SUCCESS"},
		},
		{
			name:   "stopped",
			env:    statusChanged("e3d", "orders-cache-move", "TERMINATING", "TERMINATED"),
			header: []string{":octagonal_sign:", "TERMINATING -> TERMINATED"},
		},
		{
			name:   "stopping",
			env:    statusChanged("e3e", "orders-cache-move", "INCRMIGEATING", "TERMINATING"),
			header: []string{":octagonal_sign:"},
		},
		{
			name:   "pending",
			env:    envelope("e3f", diff.Discovered, nil, task("orders-cache-move", "RUNNING"), 0),
			header: []string{":hourglass_flowing_sand:", "orders-cache-move: discovered in RUNNING"},
		},
		{
			name:    "watch degraded",
			env:     degraded,
			header:  []string{":warning:", "watcher cannot see the task"},
			body:    []string{"*Why the watcher is blind*\n```throttled: APIGW.0308 the API is throttled```"},
			notBody: []string{"Time in previous status"},
		},
		{
			name:   "watch recovered",
			env:    recovered,
			header: []string{":large_green_circle:", "watcher sees the task again"},
			body:   []string{"*The watcher was blind because*\n```throttled"},
		},
		{
			name:   "removed",
			env:    envelope("e6", diff.Removed, task("orders-cache-move", "INCRMIGEATING"), nil, 0),
			header: []string{":wastebasket:", "orders-cache-move: removed (last seen INCRMIGEATING)"},
			body:   []string{"*Kind*\nremoved", "*Source*\nredis-src"},
		},
		{
			name:   "task status changed lists the change",
			env:    tsc,
			header: []string{":arrows_counterclockwise:", "task_status: (none) -> EXCHANGING"},
			body:   []string{"*Kind*\ntask_status_changed (task)", "*Changed fields*\n• `task_status`: `(none)` -> `EXCHANGING`"},
		},
		{
			name:   "no name falls back to the task id",
			env:    envelope("e8", diff.StatusChanged, task("", "FULLMIGRATING"), unnamed, 0),
			header: []string{"a1b2c3d4-0000-4000-8000-000000000001: FULLMIGRATING -> SUCCESS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := Render(tt.env)
			checkLimits(t, msg)
			h, all := headerText(msg), texts(msg)
			for _, want := range tt.header {
				if !strings.Contains(h, want) {
					t.Errorf("header %q lacks %q", h, want)
				}
			}
			assertBody(t, msg, all, tt.body, tt.notBody, tt.text)
			// What is sent is what Slack reads back.
			raw, err := json.Marshal(msg)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var back slack.WebhookMessage
			if err := json.Unmarshal(raw, &back); err != nil || len(back.Blocks.BlockSet) != len(msg.Blocks.BlockSet) {
				t.Fatalf("message does not round-trip through JSON: %v", err)
			}
		})
	}
}

func TestRenderRespectsBlockKitLimits(t *testing.T) {
	long := strings.Repeat("名", 500)
	huge := strings.Repeat("disk full <&> é ", 1000)
	curr := task(long, "FAILED")
	curr.ErrorMessage = huge
	curr.Source.Addrs = strings.Repeat("10.0.0.1:6379,", 200)
	env := envelope("e1", diff.StatusChanged, task(long, "MIGRATING"), curr, time.Minute)
	msg := Render(env)
	checkLimits(t, msg)
	h := headerText(msg)
	if !strings.Contains(h, "…: MIGRATING -> FAILED") {
		t.Errorf("header %q should cut the name and keep the transition", h)
	}
	if all := texts(msg); !strings.Contains(all, "disk full &lt;&amp;&gt; é") || !strings.Contains(all, "…```") {
		t.Errorf("reason should be escaped and cut with an ellipsis:\n%.500s", all)
	}

	many := envelope("e2", diff.Changed, task("t", "MIGRATING"), task("t", "MIGRATING"), 0)
	for i := range 40 {
		many.Data.Changes = append(many.Data.Changes, diff.FieldChange{Field: fmt.Sprintf("field_%d", i), Old: huge, New: huge})
	}
	msg = Render(many)
	checkLimits(t, msg)
	if all := texts(msg); !strings.Contains(all, "…and 30 more") || strings.Contains(all, "field_10") {
		t.Errorf("changes should stop at 10 with a count of the rest:\n%.800s", all)
	}
}

func TestRenderEscapesAPIText(t *testing.T) {
	curr := task("a<b>&c", "FAILED")
	curr.ErrorMessage = "<!channel> see <https://evil.example|here> & retry"
	curr.Source.Name = "<@U123>"
	msg := Render(envelope("e1", diff.StatusChanged, task("a<b>&c", "MIGRATING"), curr, 0))
	all := texts(msg)
	for _, raw := range []string{"<!channel>", "<https://evil.example|here>", "<@U123>"} {
		if strings.Contains(all, raw) {
			t.Errorf("API text %q reached Slack unescaped", raw)
		}
	}
	for _, want := range []string{"&lt;!channel&gt; see &lt;https://evil.example|here&gt; &amp; retry", "*Source*\n&lt;@U123&gt;"} {
		if !strings.Contains(all, want) {
			t.Errorf("message lacks %q:\n%s", want, all)
		}
	}
	if !strings.HasPrefix(msg.Text, "a&lt;b&gt;&amp;c: ") {
		t.Errorf("fallback text %q is not escaped", msg.Text)
	}
	// plain_text is not parsed by Slack, so the header shows the name as it is.
	if h := headerText(msg); !strings.Contains(h, "a<b>&c") {
		t.Errorf("header %q should show the raw name", h)
	}
}

var checkLimits = slackmsgtest.CheckLimits

func TestHumanize(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{45 * time.Second, "45s"},
		{59*time.Second + 600*time.Millisecond, "1m"},
		{3*time.Minute + 12*time.Second, "3m12s"},
		{5 * time.Minute, "5m"},
		{2*time.Hour + 5*time.Minute + 59*time.Second, "2h5m"},
		{2 * time.Hour, "2h"},
		{3*24*time.Hour + 4*time.Hour + 30*time.Minute, "3d4h"},
		{3 * 24 * time.Hour, "3d"},
	}
	for _, tt := range tests {
		if got := Humanize(tt.in); got != tt.want {
			t.Errorf("Humanize(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		escaped  bool
		want     string
	}{
		{"fits", "abc", 3, false, "abc"},
		{"cut", "abcdef", 4, false, "abc…"},
		{"runes, not bytes", "名名名名名", 3, false, "名名…"},
		{"one", "abc", 1, false, "…"},
		{"entity kept whole", escape("ab&cd"), 6, true, "ab…"},
		{"entity before the cut", escape("a&bcdef"), 8, true, "a&amp;b…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := clip(tt.in, tt.max)
			if tt.escaped {
				got = clipEscaped(tt.in, tt.max)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// A status change seen after the watcher could not observe the task says
// that statuses may be missing in between; an ordinary one does not.
func TestRenderSaysStatusesMayBeSkipped(t *testing.T) {
	env := statusChanged("e-gap", "orders", "RUNNING", "INCRMIGEATING")
	if got := texts(Render(env)); strings.Contains(got, "may have passed through") {
		t.Fatalf("an ordinary change warns of skipped statuses:\n%s", got)
	}
	env.Data.MayHaveSkipped, env.Data.Gap = true, "watcher restarted"
	got := texts(Render(env))
	if !strings.Contains(got, "watcher restarted: the task may have passed through statuses in between") {
		t.Errorf("a change across a gap does not say so:\n%s", got)
	}
}
