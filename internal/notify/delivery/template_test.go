package delivery

import (
	"strings"
	"testing"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/slackmsgtest"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

var writeTemplate = slackmsgtest.WriteTemplate

// TestRouteTemplate: a route's template renders that route's messages
// only; the default destination and the other route keep the defaults,
// and a template that does not load stops New with the route's name.
func TestRouteTemplate(t *testing.T) {
	js := startJetStream(t)
	def, oncall, other := newHook(t, nil), newHook(t, nil), newHook(t, nil)
	path := writeTemplate(t, `{{define "header"}}ONCALL {{.Name}} is {{.Outcome}}{{end}}`)
	o := Options{NoGrouping: true, Routes: []Route{
		{Name: "oncall", Match: notify.Match{Outcomes: []dcs.Outcome{dcs.OutcomeFailed}}, Sender: slackwire.WebhookSender{URL: secret.Secret(oncall.WebhookURL())},
			Template: path, Mentions: []string{"@here"}, Continue: true},
		{Name: "other", Match: notify.Match{Outcomes: []dcs.Outcome{dcs.OutcomeFailed}}, Sender: slackwire.WebhookSender{URL: secret.Secret(other.WebhookURL())}},
	}}
	n := startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(def.WebhookURL())}, o)
	publish(t, js,
		named("ev-1", "orders", "MIGRATING", "FAILED", diff.StatusChanged),
		named("ev-2", "billing", "MIGRATING", "SUCCESS", diff.StatusChanged),
	)
	n.drained(t)
	for name, c := range map[string]struct {
		f    *slackhook.Server
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
	if posts := oncall.Accepted(); len(posts) == 1 && mentionSection(posts[0].Msg) != "<!here>" {
		t.Errorf("the route's mentions are lost with its template: %q", mentionSection(posts[0].Msg))
	}

	bad := writeTemplate(t, "{{define \"header\"}}{{.Nope}}{{end}}")
	o.Routes[1].Template = bad
	if _, err := New(js, slackwire.WebhookSender{URL: secret.Secret(def.WebhookURL())}, defaulted(o)); err == nil || !strings.Contains(err.Error(), `route "other": template: render `+bad+":1:") {
		t.Errorf("New with a broken route template: %v", err)
	}
}
