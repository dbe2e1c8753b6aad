package slackmsg

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"
)

// unmarkdown turns our own mrkdwn back into plain text for the console.
var unmarkdown = strings.NewReplacer("```", "", "`", "", "*", "", "&lt;", "<", "&gt;", ">", "&amp;", "&")

// Plain renders a message as text: the header line, one line per field,
// the other sections indented, the context, and the fallback text.
func Plain(msg *slack.WebhookMessage) string {
	var b strings.Builder
	b.WriteString("── slack ──────────────────────────────────────────\n")
	if msg.Blocks != nil {
		for _, blk := range msg.Blocks.BlockSet {
			plainBlock(&b, blk)
		}
	}
	if msg.Text != "" {
		fmt.Fprintf(&b, "  text: %s\n", unmarkdown.Replace(msg.Text))
	}
	return b.String()
}

func plainBlock(b *strings.Builder, blk slack.Block) {
	switch v := blk.(type) {
	case *slack.HeaderBlock:
		if v.Text != nil {
			fmt.Fprintf(b, "%s\n", v.Text.Text)
		}
	case *slack.SectionBlock:
		if v.Text != nil {
			for _, line := range strings.Split(strings.TrimSpace(unmarkdown.Replace(v.Text.Text)), "\n") {
				fmt.Fprintf(b, "  %s\n", line)
			}
		}
		for _, f := range v.Fields {
			label, value, _ := strings.Cut(unmarkdown.Replace(f.Text), "\n")
			fmt.Fprintf(b, "  %s: %s\n", label, strings.ReplaceAll(value, "\n", " / "))
		}
	case *slack.ContextBlock:
		var parts []string
		for _, el := range v.ContextElements.Elements {
			if t, ok := el.(*slack.TextBlockObject); ok {
				parts = append(parts, unmarkdown.Replace(t.Text))
			}
		}
		fmt.Fprintf(b, "  (%s)\n", strings.Join(parts, " "))
	}
}
