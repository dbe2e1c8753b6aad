package slackmsg

import (
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/slackmsgtest"
)

const (
	project = slackmsgtest.Project
	prefix  = slackmsgtest.Prefix
)

// Fixtures (see package slackmsgtest).
var (
	task          = slackmsgtest.Task
	observed      = slackmsgtest.Observed
	envelope      = slackmsgtest.Envelope
	statusChanged = slackmsgtest.StatusChanged
	burstTask     = slackmsgtest.BurstTask
	burstEvent    = slackmsgtest.BurstEvent
	newLogger     = slackmsgtest.NewLogger
	move          = slackmsgtest.Move
	texts         = slackmsgtest.Texts
	headerText    = slackmsgtest.HeaderText
	writeTemplate = slackmsgtest.WriteTemplate
)

// assertBody checks a rendered message's text (all) and fallback text: it
// holds every body line, none of notBody nor anything named password, and
// the fallback text is text when one is given.
func assertBody(t *testing.T, msg slack.WebhookMessage, all string, body, notBody []string, text string) {
	t.Helper()
	for _, want := range body {
		if !strings.Contains(all, want) {
			t.Errorf("message lacks %q; it says:\n%s", want, all)
		}
	}
	for _, bad := range append(notBody, "password", "Password") {
		if strings.Contains(all, bad) {
			t.Errorf("message holds %q; it says:\n%s", bad, all)
		}
	}
	if text != "" && msg.Text != text {
		t.Errorf("fallback text %q, want %q", msg.Text, text)
	}
}
