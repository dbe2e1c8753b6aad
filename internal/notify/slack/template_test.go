package slack

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slack/msgtmpl"
)

// exampleTemplate is the example shipped under configs/.
const exampleTemplate = "../../../configs/slack-template.example.tmpl"

// dumpTemplate writes every string of the data model, unclipped, into
// mrkdwn texts (and the header), with no literal markup of its own: what a
// careless template does. Slack must still get every API text escaped and
// every text within its limit.
const dumpTemplate = `
{{define "header"}}{{.Emoji}} {{.Name}} {{.What}} {{.Reason}}{{end}}
{{define "fields"}}{{range .Changes}}{{nextfield}}{{.Field}} {{.Old}} {{.New}} {{$.Reason}}{{nextfield}}{{end}}
{{- field "Name" .Name}}{{field "Task" .TaskID}}{{field "Kind" (print .Kind .Scope .Outcome .Severity .Gap)}}
{{- with .From}}{{field "From" (print .Raw .Normalized .Phase)}}{{end}}{{with .To}}{{field "To" (print .Raw .Normalized .Phase)}}{{end}}
{{- with .Source}}{{field "Source" (print .Name .Addr)}}{{end}}{{with .Target}}{{field "Target" (print .Name .Addr)}}{{end}}{{end}}
{{define "reason"}}{{.ReasonLabel}} {{.Reason}} {{.Reason}}{{end}}
{{define "changes"}}{{range .Changes}}{{.Field}}: {{.Old}} -> {{.New}}
{{end}}{{end}}
{{define "extra"}}{{.What}} {{.LineWhat}} {{.ProjectID}} {{.Region}} {{.PreviousStatusFor}}{{end}}
{{define "context"}}{{.EventID}} {{.Observed}} {{.Reason}}{{end}}
{{define "text"}}{{.Name}}: {{.What}} {{.Reason}}{{end}}
{{define "group_header"}}{{.Headline}} {{range .Tasks}}{{.Name}} {{end}}{{end}}
{{define "group_reason"}}{{.ReasonLabel}} {{.Reason}} {{.Project}} {{.Observed}}{{end}}
{{define "group_line"}}{{.Name}} {{.TaskID}} {{.LineWhat}} {{.Reason}}{{end}}
{{define "group_context"}}{{range .Tasks}}{{.Name}} {{.Reason}} {{end}}{{end}}
{{define "group_text"}}{{.Headline}}: {{range .Tasks}}{{.Name}}, {{end}}{{end}}
`

func writeTemplate(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "oncall.tmpl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadSet(t *testing.T, path string) *msgtmpl.Set {
	t.Helper()
	set, err := msgtmpl.Load(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return set
}

// TestDataModelEscapesEveryString walks every string of the data model of
// an event whose API texts are all evil: in the mrkdwn context none holds
// a raw '<' or a bare '&' (a field added to the model without escaping
// fails here), in the plain_text context the name is as the API gave it.
func TestDataModelEscapesEveryString(t *testing.T) {
	env := envelope("e1", diff.StatusChanged, evilTask(evil), evilTask(evil), time.Minute)
	env.Data.Changes = []diff.FieldChange{{Field: evil, Old: evil, New: evil}}
	env.Data.Kind = diff.Changed // so that the changes are in the data
	env.Data.Scope, env.Data.Gap, env.Data.Region = evil, evil, evil
	m := messageData(env, msgtmpl.Escape, []string{"@here"})
	var walk func(path string, v reflect.Value)
	seen := 0
	walk = func(path string, v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			seen++
			s := v.String()
			if strings.Contains(s, "<") && !strings.HasPrefix(path, ".Mentions") || strings.Contains(entities.Replace(s), "&") {
				t.Errorf("%s = %q: not escaped for mrkdwn", path, s)
			}
		case reflect.Pointer:
			if v.IsNil() {
				t.Errorf("%s is nil: the walk misses its strings", path)
				return
			}
			walk(path, v.Elem())
		case reflect.Struct:
			if v.Type() == reflect.TypeFor[time.Time]() {
				return
			}
			for i := range v.NumField() {
				walk(path+"."+v.Type().Field(i).Name, v.Field(i))
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(fmt.Sprintf("%s[%d]", path, i), v.Index(i))
			}
		}
	}
	walk("", reflect.ValueOf(m))
	if seen < 25 {
		t.Errorf("walked %d strings: the model has more", seen)
	}
	if !strings.Contains(m.Name, evilEscaped) || !strings.Contains(m.Reason, evilEscaped) || !strings.Contains(m.Source.Addr, evilEscaped) {
		t.Errorf("API text is not in the model, escaped: %+v", m)
	}
	if p := messageData(env, msgtmpl.Plain, nil); p.Name != evil {
		t.Errorf("plain_text name = %q, want it as the API gave it", p.Name)
	}
}

// TestCustomTemplateEscapes is TestRenderEscapesEveryField for a template
// that writes every value of the data model and for the shipped example:
// API text reaches every mrkdwn text escaped whatever the template does.
func TestCustomTemplateEscapes(t *testing.T) {
	for name, path := range map[string]string{"dump": writeTemplate(t, dumpTemplate), "example": exampleTemplate} {
		r := NewRenderer(loadSet(t, path), []string{"@here"}, zeroLog())
		t.Run(name, func(t *testing.T) {
			changed := envelope("e2", diff.Changed, evilTask("MIGRATING"), evilTask("MIGRATING"), time.Minute)
			changed.Data.Changes = []diff.FieldChange{{Field: evil, Old: evil, New: evil}}
			for _, env := range []notify.Envelope{
				envelope("e1", diff.StatusChanged, evilTask("MIGRATING"), evilTask("MIGRATING"), time.Minute),
				envelope("e5", diff.StatusChanged, evilTask(evil), evilTask(evil), 0),
				changed,
				envelope("e6", diff.Removed, evilTask("FAILED"), nil, 0),
			} {
				msg := r.Render(env)
				if h := headerText(msg); name == "dump" && !strings.Contains(h, evil) {
					t.Errorf("header %q: the dump template did not render (fell back?)", h)
				}
				assertEscapedBut(t, msg, "<!here>", runbook)
				checkLimits(t, msg)
			}
			var envs []notify.Envelope
			for i := range 4 {
				curr := evilTask("FAILED")
				curr.ID = fmt.Sprint(evil, i)
				envs = append(envs, envelope(fmt.Sprint("g", i), diff.StatusChanged, evilTask("MIGRATING"), curr, 0))
			}
			for _, p := range r.RenderGroup(envs) {
				assertEscapedBut(t, p.Msg, "<!here>", runbook)
				checkLimits(t, p.Msg)
			}
		})
	}
}

// runbook is the example template's own link.
const runbook = "<https://wiki.example.com/runbooks/dcs-migration|Runbook: failed DCS migration>"

// assertEscapedBut is assertEscaped after removing the markup the route
// and its template write on purpose (mentions, a runbook link), which is
// meant to reach Slack as it is.
func assertEscapedBut(t *testing.T, msg slack.WebhookMessage, markup ...string) {
	t.Helper()
	strip := func(s string) string {
		for _, m := range markup {
			s = strings.ReplaceAll(s, m, "")
		}
		return s
	}
	msg.Text = strip(msg.Text)
	blocks := make([]slack.Block, 0, len(msg.Blocks.BlockSet))
	for _, b := range msg.Blocks.BlockSet {
		if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil {
			cp := *s
			tx := *s.Text
			tx.Text = strip(tx.Text)
			cp.Text = &tx
			b = &cp
		}
		blocks = append(blocks, b)
	}
	msg.Blocks = &slack.Blocks{BlockSet: blocks}
	assertEscaped(t, msg)
}

// TestTemplateLimits: a 10,000-character error message and 200 changed
// fields, through the default templates and through one that clips
// nothing, make messages within every Block Kit limit, cut with "…".
func TestTemplateLimits(t *testing.T) {
	huge := strings.Repeat("connection <reset> & retried; ", 345)[:10000]
	curr := task(strings.Repeat("orders-", 40), "FAILED")
	curr.ErrorMessage = huge
	failed := envelope("e1", diff.StatusChanged, task("t", "MIGRATING"), curr, time.Minute)
	many := envelope("e2", diff.Changed, task("t", "MIGRATING"), curr, 0)
	for i := range 200 {
		many.Data.Changes = append(many.Data.Changes, diff.FieldChange{Field: fmt.Sprintf("field_%03d", i), Old: huge[:300], New: huge[:300]})
	}
	for name, r := range map[string]*Renderer{
		"default": defaultRenderer,
		"dump":    NewRenderer(loadSet(t, writeTemplate(t, dumpTemplate)), nil, zeroLog()),
	} {
		t.Run(name, func(t *testing.T) {
			for _, env := range []notify.Envelope{failed, many} {
				msg := r.Render(env)
				checkLimits(t, msg)
				all := texts(msg)
				if !strings.Contains(all, "…") {
					t.Errorf("%s: nothing was cut with a marker:\n%.300s", env.ID, all)
				}
				if name == "dump" && (!strings.HasSuffix(msg.Text, "…") || utf8.RuneCountInString(msg.Text) != maxFallback) {
					t.Errorf("%s: fallback text not cut with a marker: %d characters", env.ID, utf8.RuneCountInString(msg.Text))
				}
				if name == "dump" {
					for _, blk := range msg.Blocks.BlockSet {
						if s, ok := blk.(*slack.SectionBlock); ok && s.Text != nil && !strings.HasSuffix(s.Text.Text, "…") && len(s.Text.Text) > 2000 {
							t.Errorf("%s: a long section not cut with a marker", env.ID)
						}
					}
				}
			}
			var envs []notify.Envelope
			for i := range 120 {
				c := burstTask(i, "FAILED")
				c.ErrorMessage = fmt.Sprint(i, huge)
				envs = append(envs, envelope(fmt.Sprint("g", i), diff.StatusChanged, burstTask(i, "MIGRATING"), c, 0))
			}
			total := 0
			for _, p := range r.RenderGroup(envs) {
				checkLimits(t, p.Msg)
				total += p.Events
			}
			if total != len(envs) {
				t.Errorf("the parts list %d events, want %d", total, len(envs))
			}
		})
	}
}

// failingTemplate parses and passes the sample renders, but fails on a
// removed event (it indexes a change such an event does not have).
const failingTemplate = `{{define "header"}}custom {{.Name}}{{if eq .Kind "removed"}}{{index .Changes 3}}{{end}}{{end}}
{{define "group_line"}}custom {{.Name}}{{if eq .Kind "removed"}}{{index .Changes 3}}{{end}}{{end}}`

// TestTemplateFailureFallsBack: a template that fails for an event still
// posts it, rendered by the default template (mentions kept), and the
// failure is logged once, not once per message.
func TestTemplateFailureFallsBack(t *testing.T) {
	log, buf := newLogger()
	r := NewRenderer(loadSet(t, writeTemplate(t, failingTemplate)), []string{"U0ONCALL"}, log)
	ok := r.Render(statusChanged("e1", "orders", "MIGRATING", "FAILED"))
	if h := headerText(ok); h != "custom orders" {
		t.Errorf("header %q: the custom template should render this event", h)
	}
	removed := envelope("e2", diff.Removed, task("orders", "FAILED"), nil, 0)
	for range 3 {
		msg := r.Render(removed)
		want := WithMentions(Render(removed), []string{"U0ONCALL"})
		if string(goldenJSON(t, msg)) != string(goldenJSON(t, want)) {
			t.Errorf("fallback message differs from the default rendering:\n%s", goldenJSON(t, msg))
		}
	}
	var envs []notify.Envelope
	for i := range 3 {
		envs = append(envs, envelope(fmt.Sprint("r", i), diff.Removed, burstTask(i, "FAILED"), nil, 0))
	}
	parts := r.RenderGroup(envs)
	if len(parts) != 1 || parts[0].Events != 3 || !strings.Contains(texts(parts[0].Msg), "• *task-000*") {
		t.Errorf("group not rendered by the default template: %+v", parts)
	}
	if n := strings.Count(buf.String(), "message template failed"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "oncall.tmpl:1") {
		t.Errorf("the log does not name the template and line:\n%s", buf.String())
	}
}

// TestTemplateRejected: errors at load name the file and the line.
func TestTemplateRejected(t *testing.T) {
	for name, tt := range map[string]struct{ src, want string }{
		"syntax":          {"{{define \"header\"}}\n{{.Name}}\n{{if}}\n{{end}}", "parse %s:3: missing value for if"},
		"unknown field":   {"{{define \"text\"}}\n{{.Nmae}}{{end}}", "render %s:2:2: executing \"text\" at <.Nmae>: can't evaluate field Nmae"},
		"unknown func":    {"{{define \"text\"}}{{shout .Name}}{{end}}", "parse %s:1: function \"shout\" not defined"},
		"misspelt part":   {"{{define \"haeder\"}}x{{end}}", "parse %s: defines \"haeder\", which is not a part"},
		"nil on sparse":   {"{{define \"context\"}}{{.Source.Name}}{{end}}", "render %s:1:29: executing \"context\" at <.Source.Name>: nil pointer"},
		"wrong arg types": {"{{define \"reason\"}}{{clip .Reason 10}}{{end}}", "render %s:1:"},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeTemplate(t, tt.src)
			_, err := msgtmpl.Load(path)
			if want := fmt.Sprintf(tt.want, path); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want it to contain %q", err, want)
			}
		})
	}
}

// TestRouteTemplate: a route's template renders that route's messages
// only; the default destination and the other route keep the defaults,
// and a template that does not load stops New with the route's name.
func TestRouteTemplate(t *testing.T) {
	js := startJetStream(t)
	def, oncall, other := newFakeSlack(t, nil), newFakeSlack(t, nil), newFakeSlack(t, nil)
	path := writeTemplate(t, `{{define "header"}}ONCALL {{.Name}} is {{.Outcome}}{{end}}`)
	o := Options{NoGrouping: true, Routes: []Route{
		{Name: "oncall", Match: Match{Outcomes: []dcs.Outcome{dcs.OutcomeFailed}}, Sender: WebhookSender{URL: oncall.url()},
			Template: path, Mentions: []string{"@here"}, Continue: true},
		{Name: "other", Match: Match{Outcomes: []dcs.Outcome{dcs.OutcomeFailed}}, Sender: WebhookSender{URL: other.url()}},
	}}
	n := startNotifier(t, js, WebhookSender{URL: def.url()}, o)
	publish(t, js,
		named("ev-1", "orders", "MIGRATING", "FAILED", diff.StatusChanged),
		named("ev-2", "billing", "MIGRATING", "SUCCESS", diff.StatusChanged),
	)
	n.drained(t)
	for name, c := range map[string]struct {
		f    *fakeSlack
		want []string
	}{
		"oncall":  {oncall, []string{"ONCALL orders is failed"}},
		"other":   {other, []string{":x: orders: MIGRATING -> FAILED"}},
		"default": {def, []string{":white_check_mark: billing: MIGRATING -> SUCCESS"}},
	} {
		if got := headers(c.f); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s got headers %q, want %q", name, got, c.want)
		}
	}
	if posts := oncall.accepted(); len(posts) == 1 && mentionSection(posts[0].Msg) != "<!here>" {
		t.Errorf("the route's mentions are lost with its template: %q", mentionSection(posts[0].Msg))
	}

	bad := writeTemplate(t, "{{define \"header\"}}{{.Nope}}{{end}}")
	o.Routes[1].Template = bad
	if _, err := New(js, WebhookSender{URL: def.url()}, defaulted(o)); err == nil || !strings.Contains(err.Error(), `route "other": template: render `+bad+":1:") {
		t.Errorf("New with a broken route template: %v", err)
	}
}

// TestExampleTemplate renders the shipped example: it loads, renders a
// failure with its runbook link and severity, and leaves grouped messages
// to the defaults.
func TestExampleTemplate(t *testing.T) {
	r := NewRenderer(loadSet(t, exampleTemplate), nil, zeroLog())
	curr := task("orders-cache-move", "FAILED")
	curr.ErrorMessage = "source unreachable"
	msg := r.Render(envelope("e1", diff.StatusChanged, task("orders-cache-move", "MIGRATING"), curr, time.Minute))
	checkLimits(t, msg)
	if h := headerText(msg); h != ":x: [critical] orders-cache-move: MIGRATING -> FAILED" {
		t.Errorf("header %q", h)
	}
	for _, want := range []string{"<https://wiki.example.com/runbooks/dcs-migration|Runbook: failed DCS migration>", "*Failure reason*\n```source unreachable```", "[critical] orders-cache-move: MIGRATING -> FAILED"} {
		if !strings.Contains(texts(msg), want) {
			t.Errorf("message lacks %q:\n%s", want, texts(msg))
		}
	}
	parts := r.RenderGroup([]notify.Envelope{burstEvent(1, "MIGRATING", "FAILED"), burstEvent(2, "MIGRATING", "FAILED")})
	if len(parts) != 1 || headerText(parts[0].Msg) != ":x: 2 migration tasks -> FAILED" {
		t.Errorf("grouped message not the default: %+v", parts)
	}
}

func zeroLog() zerolog.Logger { return zerolog.Nop() }
