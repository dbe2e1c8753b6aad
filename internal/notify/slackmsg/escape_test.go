package slackmsg

import (
	"fmt"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// evil is API text that, unescaped in mrkdwn, would notify the whole
// channel and show a link; evilEscaped is how Slack must receive it.
const (
	evil        = "<!channel> <https://evil|click> & co"
	evilEscaped = "&lt;!channel&gt; &lt;https://evil|click&gt; &amp; co"
)

// mrkdwnText is one text of a message that Slack parses as mrkdwn.
type mrkdwnText struct{ where, text string }

// mrkdwnTexts lists the fallback text and every mrkdwn text object of msg;
// a plain_text one (the header) is not parsed, so it may show evil as is.
func mrkdwnTexts(t *testing.T, msg slack.WebhookMessage) []mrkdwnText {
	t.Helper()
	out := []mrkdwnText{{"fallback text", msg.Text}}
	add := func(where string, o *slack.TextBlockObject) {
		if o != nil && o.Type == slack.MarkdownType {
			out = append(out, mrkdwnText{where, o.Text})
		}
	}
	for i, blk := range msg.Blocks.BlockSet {
		switch v := blk.(type) {
		case *slack.HeaderBlock:
			if v.Text.Type != slack.PlainTextType {
				t.Errorf("block %d: a header of type %s", i, v.Text.Type)
			}
		case *slack.SectionBlock:
			add(fmt.Sprintf("block %d text", i), v.Text)
			for j, f := range v.Fields {
				add(fmt.Sprintf("block %d field %d", i, j), f)
			}
		case *slack.ContextBlock:
			for j, el := range v.ContextElements.Elements {
				if tx, ok := el.(*slack.TextBlockObject); ok {
					add(fmt.Sprintf("block %d context %d", i, j), tx)
				}
			}
		default:
			t.Errorf("block %d: unchecked block type %T", i, blk)
		}
	}
	return out
}

// entities are the three Slack mrkdwn wants; an '&' left once they are
// removed is a bare one.
var entities = strings.NewReplacer("&amp;", "", "&lt;", "", "&gt;", "")

// assertEscaped checks every mrkdwn text of msg: no '<' (the renderer
// writes none, so any is API text opening a mention or link), no '>' that
// closes one, no bare '&'; and that the fallback names the evil task.
func assertEscaped(t *testing.T, msg slack.WebhookMessage) {
	t.Helper()
	for _, m := range mrkdwnTexts(t, msg) {
		switch {
		case strings.Contains(m.text, "<"):
			t.Errorf("%s holds a raw '<': %q", m.where, m.text)
		case strings.Contains(m.text, "channel>") || strings.Contains(m.text, "click>"):
			t.Errorf("%s holds a raw '>': %q", m.where, m.text)
		case strings.Contains(entities.Replace(m.text), "&"):
			t.Errorf("%s holds a bare '&': %q", m.where, m.text)
		}
	}
	if !strings.Contains(msg.Text, "&lt;!channel&gt;") {
		t.Errorf("fallback text %q does not name the task, escaped", msg.Text)
	}
}

// evilTask carries evil in every text the API controls.
func evilTask(status string) *dcs.Task {
	return &dcs.Task{
		ID: evil, Name: evil, Status: status, ErrorMessage: evil,
		Source: dcs.Instance{Name: evil, Addrs: evil},
		Target: dcs.Instance{Name: evil, IP: evil, Port: evil},
	}
}

// TestRenderEscapesEveryField: API text of `<!channel> <https://evil|click>
// & co` in the task name, id, statuses, error message, instance names and
// addresses and changed fields reaches every mrkdwn text escaped, in
// single and grouped messages.
func TestRenderEscapesEveryField(t *testing.T) {
	changed := envelope("e2", diff.Changed, evilTask("MIGRATING"), evilTask("MIGRATING"), 0)
	changed.Data.Changes = []diff.FieldChange{{Field: evil, Old: evil, New: evil}}
	tsc := envelope("e3", diff.TaskStatusChanged, evilTask("MIGRATING"), evilTask("MIGRATING"), 0)
	tsc.Data.Scope = diff.ScopeSource
	tsc.Data.Changes = []diff.FieldChange{{Field: "source_instance.task_status", Old: evil, New: evil}, {Field: evil, Old: evil, New: evil}}
	degraded := notify.Build(prefix, diff.Event{ID: "e4", Kind: diff.WatchDegraded, TaskID: evil, Prev: evilTask("MIGRATING"),
		Reason: evil}, notify.Meta{ProjectID: project, ObservedAt: observed()})
	singles := map[string]notify.Envelope{
		"status_changed to FAILED":         envelope("e1", diff.StatusChanged, evilTask("MIGRATING"), evilTask("FAILED"), 0),
		"status_changed to an evil status": envelope("e5", diff.StatusChanged, evilTask(evil), evilTask(evil), 0),
		"changed":                          changed,
		"task_status_changed":              tsc,
		"watch_degraded":                   degraded,
		"removed":                          envelope("e6", diff.Removed, evilTask("FAILED"), nil, 0),
	}
	for name, env := range singles {
		t.Run(name, func(t *testing.T) {
			msg := Render(env)
			assertEscaped(t, msg)
			if name == "status_changed to FAILED" && !strings.Contains(texts(msg), "```"+evilEscaped+"```") {
				t.Errorf("the failure reason is not shown escaped:\n%s", texts(msg))
			}
		})
	}

	group := func(reason func(i int) string) []notify.Envelope {
		var envs []notify.Envelope
		for i := range 4 {
			curr := evilTask("FAILED")
			curr.ErrorMessage = reason(i)
			envs = append(envs, envelope(fmt.Sprint("g", i), diff.StatusChanged, evilTask("MIGRATING"), curr, 0))
		}
		return envs
	}
	groups := map[string][]notify.Envelope{
		"group, a reason per task":     group(func(i int) string { return fmt.Sprint(evil, i) }),
		"group, one reason for all":    group(func(int) string { return evil }),
		"group of removed and unknown": {envelope("r1", diff.Removed, evilTask(evil), nil, 0), envelope("r2", diff.Removed, evilTask(evil), nil, 0)},
	}
	for name, envs := range groups {
		t.Run(name, func(t *testing.T) {
			parts := RenderGroup(envs)
			if len(parts) == 0 {
				t.Fatal("no message")
			}
			for _, p := range parts {
				assertEscaped(t, p.Msg)
			}
		})
	}
}
