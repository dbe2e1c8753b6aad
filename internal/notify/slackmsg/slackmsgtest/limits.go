package slackmsgtest

import (
	"fmt"
	"regexp"
	"testing"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// The limits CheckLimits holds a message to: Block Kit's
// (api.slack.com/reference/block-kit), and the fallback text's the
// renderer keeps.
const (
	maxHeaderText  = 150
	maxSectionText = 3000
	maxFieldText   = 2000
	maxFields      = 10
	maxBlocks      = 50
	maxFallback    = 3000
)

var halfEntity = regexp.MustCompile(`&[a-z]*…`)

// CheckLimits fails if msg breaks a Block Kit limit Slack enforces with
// invalid_blocks (Block Kit's limits, and the fallback text's
// that the renderer keeps).
func CheckLimits(t testing.TB, msg slack.WebhookMessage) {
	t.Helper()
	check := func(where, s string, max int) {
		t.Helper()
		if n := utf8.RuneCountInString(s); n > max {
			t.Errorf("%s has %d characters, limit %d", where, n, max)
		}
		if !utf8.ValidString(s) {
			t.Errorf("%s is not valid UTF-8", where)
		}
		if halfEntity.MatchString(s) {
			t.Errorf("%s ends in half an HTML entity", where)
		}
	}
	check("fallback text", msg.Text, maxFallback)
	if n := len(msg.Blocks.BlockSet); n > maxBlocks || n == 0 {
		t.Errorf("%d blocks, want 1..%d", n, maxBlocks)
	}
	for i, blk := range msg.Blocks.BlockSet {
		where := fmt.Sprintf("block %d (%s)", i, blk.BlockType())
		switch v := blk.(type) {
		case *slack.HeaderBlock:
			if v.Text.Type != slack.PlainTextType {
				t.Errorf("%s: header text must be plain_text", where)
			}
			check(where, v.Text.Text, maxHeaderText)
		case *slack.SectionBlock:
			if v.Text == nil && len(v.Fields) == 0 {
				t.Errorf("%s: empty section", where)
			}
			if v.Text != nil {
				check(where, v.Text.Text, maxSectionText)
			}
			if len(v.Fields) > maxFields {
				t.Errorf("%s: %d fields, limit %d", where, len(v.Fields), maxFields)
			}
			for j, f := range v.Fields {
				check(fmt.Sprintf("%s field %d", where, j), f.Text, maxFieldText)
			}
		case *slack.ContextBlock:
			if n := len(v.ContextElements.Elements); n == 0 || n > 10 {
				t.Errorf("%s: %d elements, want 1..10", where, n)
			}
			for _, el := range v.ContextElements.Elements {
				if tx, ok := el.(*slack.TextBlockObject); ok {
					check(where, tx.Text, maxFieldText)
				}
			}
		default:
			t.Errorf("%s: unexpected block type", where)
		}
	}
}
