package slackmsg

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// golden compares msg, as the JSON Slack receives (see goldenJSON), with
// testdata/name byte for byte; -update writes the file first.
func golden(t *testing.T, name string, msg slack.WebhookMessage) {
	t.Helper()
	got := goldenJSON(t, msg)
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendered message (run with -update if the change is meant):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func flappingCard() *Card {
	r := &Card{}
	t0 := observed()
	r.Apply(move("g1", "task-1", "orders-cache", "MIGRATING", "FULLMIGRATING", t0, 2*time.Minute))
	r.Apply(move("g2", "task-1", "orders-cache", "FULLMIGRATING", "INCRMIGEATING", t0.Add(40*time.Minute), 40*time.Minute))
	r.Apply(move("g3", "task-1", "orders-cache", "INCRMIGEATING", "FAILED", t0.Add(65*time.Minute), 25*time.Minute))
	return r
}

// TestCardGolden: the card and a thread reply, as Slack receives them.
func TestCardGolden(t *testing.T) {
	golden(t, "card.json", RenderCard(flappingCard()))
	golden(t, "reply.json", RenderReply(move("g3", "task-1", "orders-cache", "INCRMIGEATING", "FAILED", observed().Add(65*time.Minute), 25*time.Minute)))
}

// TestCardEscapesAndLimits: API text cannot form mentions or links in the
// card or a reply, and every Block Kit limit holds for huge inputs.
func TestCardEscapesAndLimits(t *testing.T) {
	evil := "<!channel> <@U0ADMIN> <https://evil.example|click> & " + strings.Repeat("x", 5000)
	env := move("e1", "task-1", evil, "MIGRATING", "FAILED", observed(), time.Minute)
	env.Data.Snapshot.ErrorMessage = evil
	env.Data.Snapshot.Source.Name = evil
	env.Data.Snapshot.Source.Addrs = evil
	r := &Card{}
	for i := range 3 * maxSpans {
		e := move("f"+strings.Repeat("a", i), "task-1", evil, "FULLMIGRATING", []string{"INCRMIGEATING", "FULLMIGRATING"}[i%2], observed().Add(time.Duration(i)*time.Minute), time.Minute)
		e.Data.Snapshot.ErrorMessage = evil
		r.Apply(e)
	}
	r.Apply(env)
	for name, msg := range map[string]slack.WebhookMessage{"card": RenderCard(r), "reply": RenderReply(env)} {
		checkCardLimits(t, name, msg)
	}
}

func checkCardLimits(t *testing.T, name string, msg slack.WebhookMessage) {
	t.Helper()
	if msg.Text == "" || utf8.RuneCountInString(msg.Text) > maxFallback {
		t.Errorf("%s: fallback text of %d runes", name, utf8.RuneCountInString(msg.Text))
	}
	if len(msg.Blocks.BlockSet) > maxBlocks {
		t.Errorf("%s: %d blocks", name, len(msg.Blocks.BlockSet))
	}
	all := msg.Text
	for _, b := range msg.Blocks.BlockSet {
		switch v := b.(type) {
		case *slack.HeaderBlock:
			if n := utf8.RuneCountInString(v.Text.Text); n > maxHeaderText {
				t.Errorf("%s: header of %d runes", name, n)
			}
		case *slack.SectionBlock:
			if v.Text != nil {
				if n := utf8.RuneCountInString(v.Text.Text); n > maxSectionText {
					t.Errorf("%s: section of %d runes", name, n)
				}
				all += v.Text.Text
			}
			if len(v.Fields) > maxFields {
				t.Errorf("%s: %d fields", name, len(v.Fields))
			}
			for _, f := range v.Fields {
				if n := utf8.RuneCountInString(f.Text); n > maxFieldText {
					t.Errorf("%s: field of %d runes", name, n)
				}
				all += f.Text
			}
		case *slack.ContextBlock:
			for _, el := range v.ContextElements.Elements {
				if tx, ok := el.(*slack.TextBlockObject); ok {
					all += tx.Text
				}
			}
		}
	}
	for _, bad := range []string{"<!channel>", "<@U0ADMIN>", "<https://evil"} {
		if strings.Contains(all, bad) {
			t.Errorf("%s: mrkdwn holds %q unescaped", name, bad)
		}
	}
}

// TestCardTimelineFlapping: a task flapping between two statuses keeps a
// bounded timeline whose phase totals still add up.
func TestCardTimelineFlapping(t *testing.T) {
	r := &Card{}
	t0 := observed()
	st := []string{"FULLMIGRATING", "INCRMIGEATING"}
	for i := range 3 * maxSpans {
		r.Apply(move(fmt.Sprintf("f%d", i), "task-1", "flappy", st[i%2], st[(i+1)%2], t0.Add(time.Duration(i)*time.Minute), time.Minute))
	}
	if len(r.Spans) != maxSpans || len(r.Applied) != maxApplied {
		t.Errorf("spans %d, applied %d; want %d and %d", len(r.Spans), len(r.Applied), maxSpans, maxApplied)
	}
	now := t0.Add(time.Duration(3*maxSpans) * time.Minute)
	totals := r.phaseTotals(now)
	if want := time.Duration(3*maxSpans+1) * time.Minute; totals[dcs.PhaseActive] != want {
		t.Errorf("active total = %s, want %s (every minute since the first status)", totals[dcs.PhaseActive], want)
	}
	last := fmt.Sprintf("f%d", 3*maxSpans-1)
	if r.Apply(move(last, "task-1", "flappy", st[0], st[1], t0, time.Minute)) {
		t.Error("an event applied before (its id remembered) was applied again")
	}
}

// TestCardCatchUp: a card opened by a silence's catch-up says which
// silence held its event back; the task's next event, posted when it
// happens, no longer does.
func TestCardCatchUp(t *testing.T) {
	r := &Card{}
	t0 := observed()
	late := move("u1", "task-1", "orders-cache", "FULLMIGRATING", "FAILED", t0, time.Minute)
	late.Data.CatchUp = "vcqiipwk"
	r.Apply(late)
	if got := texts(RenderCard(r)); !strings.Contains(got, "held back by silence vcqiipwk, which has ended") {
		t.Errorf("card opened by a catch-up does not name the silence:\n%s", got)
	}
	r.Apply(move("u2", "task-1", "orders-cache", "FAILED", "INCRMIGEATING", t0.Add(time.Minute), time.Minute))
	if got := texts(RenderCard(r)); strings.Contains(got, "held back") {
		t.Errorf("card still says held back after an event on time:\n%s", got)
	}
}
