package slackmsg

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

func TestRenderGroup(t *testing.T) {
	failed := func(i int, reason string) notify.Envelope {
		curr := burstTask(i, "FAILED")
		curr.ErrorMessage = reason
		return envelope(fmt.Sprintf("ev-%d", i), diff.StatusChanged, burstTask(i, "INCRMIGEATING"), curr, 0)
	}
	degraded := func(i int, status string) notify.Envelope {
		return notify.Build(prefix, diff.Event{ID: fmt.Sprintf("ev-d%d", i), Kind: diff.WatchDegraded, TaskID: burstTask(i, "").ID,
			Prev: burstTask(i, status), Reason: "throttled: APIGW.0308 the API is throttled"}, notify.Meta{ProjectID: project, ObservedAt: observed()})
	}
	removed := func(i int, status string) notify.Envelope {
		return envelope(fmt.Sprintf("ev-r%d", i), diff.Removed, burstTask(i, status), nil, 0)
	}
	tests := []struct {
		name    string
		envs    []notify.Envelope
		header  string
		body    []string
		notBody []string
		text    string
	}{
		{
			name:   "failures, each with its reason",
			envs:   []notify.Envelope{failed(0, "source <unreachable>\nretrying"), failed(1, "disk full"), failed(2, "")},
			header: ":x: 3 migration tasks -> FAILED",
			body: []string{
				"• *task-000* `a1b2c3d4-0000-4000-8000-000000000000`  INCRMIGEATING -> FAILED — source &lt;unreachable&gt; retrying\n",
				"• *task-001* `a1b2c3d4-0000-4000-8000-000000000001`  INCRMIGEATING -> FAILED — disk full\n",
				"• *task-002* `a1b2c3d4-0000-4000-8000-000000000002`  INCRMIGEATING -> FAILED",
				"project `" + project + "` · observed 2026-03-01T12:00:00Z",
			},
			notBody: []string{"part", "the same for every task"},
			text:    "3 migration tasks -> FAILED: task-000, task-001, task-002",
		},
		{
			name:    "a reason they share is shown once",
			envs:    []notify.Envelope{failed(0, "AUTH failed"), failed(1, "AUTH failed"), failed(2, "AUTH failed")},
			header:  ":x: 3 migration tasks -> FAILED",
			body:    []string{"*Failure reason* (the same for every task)\n```AUTH failed```", "• *task-001* `a1b2c3d4-0000-4000-8000-000000000001`  INCRMIGEATING -> FAILED\n"},
			notBody: []string{" — "},
		},
		{
			name:   "blind to tasks in any status",
			envs:   []notify.Envelope{degraded(0, "FULLMIGRATING"), degraded(1, "INCRMIGEATING"), degraded(2, "PAUSED")},
			header: ":warning: watcher cannot see 3 migration tasks",
			body: []string{"*Why the watcher is blind* (the same for every task)\n```throttled: APIGW.0308 the API is throttled```",
				"• *task-000* `a1b2c3d4-0000-4000-8000-000000000000`  last seen FULLMIGRATING",
				"• *task-002* `a1b2c3d4-0000-4000-8000-000000000002`  last seen PAUSED (unknown status)"},
		},
		{
			name:   "removed",
			envs:   []notify.Envelope{removed(0, "SUCCESS"), removed(1, "FAILED"), removed(2, "SUCCESS")},
			header: ":wastebasket: 3 migration tasks removed",
			body:   []string{"• *task-001* `a1b2c3d4-0000-4000-8000-000000000001`  last seen FAILED"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := RenderGroup(tt.envs)
			if len(parts) != 1 || parts[0].Events != len(tt.envs) {
				t.Fatalf("%d parts, want 1 of %d events", len(parts), len(tt.envs))
			}
			msg := parts[0].Msg
			checkLimits(t, msg)
			if h := headerText(msg); h != tt.header {
				t.Errorf("header %q, want %q", h, tt.header)
			}
			all := texts(msg) + "\n"
			assertBody(t, msg, all, tt.body, tt.notBody, tt.text)
		})
	}
}

var taskIDRE = regexp.MustCompile(`a1b2c3d4-0000-4000-8000-\d{12}`)

// A run of 1,000 events with the longest names and reasons is split into
// messages that each keep every Block Kit limit, list every event exactly
// once between them, in order, and carry no planted secret.
func TestRenderGroupSplitsWithinLimits(t *testing.T) {
	const secret = "PLANTED-SECRET-4d1f"
	envs := make([]notify.Envelope, 1000)
	for i := range envs {
		prev, curr := burstTask(i, "INCRMIGEATING"), burstTask(i, "FAILED")
		for _, tk := range []*dcs.Task{prev, curr} {
			tk.Name = fmt.Sprintf("%03d-%s", i, strings.Repeat("名<&>", 200))
			tk.Description = "redis password " + secret
			tk.ECSTenantPrivateIP = secret
			tk.Source.Addrs = strings.Repeat("10.0.0.1:6379,", 100)
		}
		curr.ErrorMessage = fmt.Sprintf("%d: %s", i, strings.Repeat("disk full <&> é\n", 300))
		envs[i] = envelope(fmt.Sprintf("ev-%d", i), diff.StatusChanged, prev, curr, 0)
	}
	parts := RenderGroup(envs)

	var ids []string
	total := 0
	for i, p := range parts {
		checkLimits(t, p.Msg)
		all := texts(p.Msg)
		if strings.Contains(all, secret) || strings.Contains(strings.ToLower(all), "password") {
			t.Fatalf("part %d leaks a planted secret:\n%.500s", i, all)
		}
		want := fmt.Sprintf(":x: 1000 migration tasks -> FAILED (part %d of %d)", i+1, len(parts))
		if h := headerText(p.Msg); h != want {
			t.Errorf("part %d header %q, want %q", i, h, want)
		}
		if ctx := fmt.Sprintf("tasks %d-%d of 1000", total+1, total+p.Events); !strings.Contains(all, ctx) {
			t.Errorf("part %d does not say %q", i, ctx)
		}
		found := taskIDRE.FindAllString(all, -1)
		if len(found) != p.Events || p.Events > MaxGroupEvents {
			t.Errorf("part %d lists %d tasks, says %d, limit %d", i, len(found), p.Events, MaxGroupEvents)
		}
		lines := 0
		for _, l := range strings.Split(all, "\n") {
			if strings.HasPrefix(l, "• ") {
				lines += utf8.RuneCountInString(l) + 1
			}
		}
		if lines > maxGroupText {
			t.Errorf("part %d has %d characters of lines, limit %d", i, lines, maxGroupText)
		}
		ids = append(ids, found...)
		total += p.Events
	}
	if total != len(envs) || len(ids) != len(envs) {
		t.Fatalf("parts list %d events (%d ids), want %d", total, len(ids), len(envs))
	}
	for i, id := range ids {
		if want := burstTask(i, "").ID; id != want {
			t.Fatalf("event %d listed as %s, want %s: each once, in order", i, id, want)
		}
	}
	if len(parts) <= 1000/MaxGroupEvents {
		t.Errorf("%d parts: long lines should have been cut by characters, not only by count", len(parts))
	}
}

func TestSplitLines(t *testing.T) {
	short := func(n int) []string { return make([]string, n) }
	long := func(n int) []string {
		ls := make([]string, n)
		for i := range ls {
			ls[i] = strings.Repeat("x", maxGroupLine-1) // 600 with the newline
		}
		return ls
	}
	tests := []struct {
		name  string
		lines []string
		want  []span
	}{
		{"one", short(1), []span{{0, 1}}},
		{"exactly full", short(MaxGroupEvents), []span{{0, 50}}},
		{"by count", short(120), []span{{0, 50}, {50, 100}, {100, 120}}},
		{"by characters", long(45), []span{{0, 20}, {20, 40}, {40, 45}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := splitLines(tt.lines); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("splitLines = %v, want %v", got, tt.want)
			}
		})
	}
}
