package slackmsg

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

const consoleURL = "https://console.example/dcs/?region=cn-north-4#/dcs/migration/detail?id=task-1"

// TestCardButtonsGolden: a failed card with buttons on (Acknowledge,
// Silence 2h, Show log, the console link), and the same card once
// acknowledged and silenced (who, when, until when; the buttons already
// used are gone), as Slack receives them.
func TestCardButtonsGolden(t *testing.T) {
	r := flappingCard()
	golden(t, "card_buttons.json", RenderCardWith(r, Attention{Buttons: true, ConsoleURL: consoleURL}))
	at := observed().Add(70 * time.Minute)
	golden(t, "card_buttons_acked.json", RenderCardWith(r, Attention{Buttons: true, ConsoleURL: consoleURL,
		AckBy: "U0ANA", AckAt: at, SilenceID: "sil-7f3a", SilencedUntil: at.Add(SilenceFor)}))
}

// TestCardButtonsOnlyWhenOn: without an app token (the zero Attention)
// every card renders byte for byte as RenderCard draws it, the golden
// card included; with buttons on, only a card with an incident (a
// failure) gets the actions block.
func TestCardButtonsOnlyWhenOn(t *testing.T) {
	healthy := &Card{}
	healthy.Apply(move("h1", "task-2", "orders-cache", "FULLMIGRATING", "INCRMIGEATING", observed(), time.Hour))
	for name, r := range map[string]*Card{"failed": flappingCard(), "healthy": healthy} {
		plain, with := goldenJSON(t, RenderCard(r)), goldenJSON(t, RenderCardWith(r, Attention{}))
		if !bytes.Equal(plain, with) {
			t.Errorf("%s: without an app token the card differs from RenderCard's:\n%s\n---\n%s", name, with, plain)
		}
	}
	golden(t, "card.json", RenderCardWith(flappingCard(), Attention{}))
	if hasActions(RenderCardWith(healthy, Attention{Buttons: true, ConsoleURL: consoleURL})) {
		t.Error("a healthy card has buttons")
	}
	if !hasActions(RenderCardWith(flappingCard(), Attention{Buttons: true})) {
		t.Error("a failed card with buttons on has none")
	}
	if Incident(healthy) != "" || Incident(flappingCard()) == "" {
		t.Errorf("incidents: healthy %q, failed %q", Incident(healthy), Incident(flappingCard()))
	}
}

// TestButtonValue: a button's value reads back as the task and incident
// it was drawn for; a value that is not the watcher's is an error, and a
// user name that is not a Slack id cannot become a mention.
func TestButtonValue(t *testing.T) {
	r := flappingCard()
	msg := RenderCardWith(r, Attention{Buttons: true})
	var values []string
	for _, b := range msg.Blocks.BlockSet {
		if a, ok := b.(*slack.ActionBlock); ok {
			for _, e := range a.Elements.ElementSet {
				values = append(values, e.(*slack.ButtonBlockElement).Value)
			}
		}
	}
	if len(values) != 3 {
		t.Fatalf("%d buttons, want Acknowledge, Silence and Show log", len(values))
	}
	v, err := DecodeButtonValue(values[0])
	if err != nil || v.Project != r.Project || v.TaskID != r.TaskID || v.Incident != Incident(r) {
		t.Errorf("value %q read as %+v, %v", values[0], v, err)
	}
	for _, bad := range []string{"", "not json", `{"p":"x"}`} {
		if _, err := DecodeButtonValue(bad); err == nil {
			t.Errorf("value %q accepted", bad)
		}
	}
	evil := RenderCardWith(r, Attention{AckBy: "<!channel>", AckAt: observed()})
	if all := texts(evil); strings.Contains(all, "<!channel>") {
		t.Errorf("an odd acknowledger became markup:\n%s", all)
	}
}

func hasActions(msg slack.WebhookMessage) bool {
	for _, b := range msg.Blocks.BlockSet {
		if b.BlockType() == slack.MBTAction {
			return true
		}
	}
	return false
}

// TestLogReply: the log reply shows the newest lines, at most ten, with
// their log code, escaped (a log line cannot mention anyone) and
// within Block Kit's limits; no lines say so.
func TestLogReply(t *testing.T) {
	var entries []dcs.LogEntry
	for i := range 15 {
		entries = append(entries, dcs.LogEntry{Time: observed().Add(-time.Duration(i) * time.Minute), Level: "ERROR",
			Message: fmt.Sprintf("line %d <!channel> ```", i), Code: "DCS.M0042"})
	}
	msg := RenderLogReply("orders-cache", "U0ANA", entries)
	all := texts(msg)
	if strings.Contains(all, "<!channel>") || !strings.Contains(all, "line 9") || strings.Contains(all, "line 10") || !strings.Contains(all, "DCS.M0042") {
		t.Errorf("log reply:\n%s", all)
	}
	checkCardLimits(t, "log reply", msg)
	if none := texts(RenderLogReply("orders-cache", "U0ANA", nil)); !strings.Contains(none, "no log lines") {
		t.Errorf("empty log reply: %s", none)
	}
}

// TestConsoleURL: the default template makes the task's console URL with
// its values escaped; a template that makes no http(s) URL is refused.
func TestConsoleURL(t *testing.T) {
	c, err := ParseConsoleURL(DefaultConsoleURL)
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.For("cn-north-4", "p1", "task 1&x=y")
	if err != nil || u != "https://console.huaweicloud.com/dcs/?region=cn-north-4#/dcs/migration/detail?id=task+1%26x%3Dy" {
		t.Errorf("url %q, %v", u, err)
	}
	for _, bad := range []string{"{{.Nope}}", "ftp://x/{{.TaskID}}", "{{.TaskID}}", "https://x/{{"} {
		if _, err := ParseConsoleURL(bad); err == nil {
			t.Errorf("template %q accepted", bad)
		}
	}
}
