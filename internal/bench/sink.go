package bench

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

// Covered counts the needles (task names or ids: each entry lists the
// ways one task may be named) that appear in the text of the messages, so
// that a grouped message still has to name every task it stands for. The
// text is every JSON string of a body, escapes undone (\u003e), so names
// are found as Slack shows them.
func Covered(msgs []slackhook.Post, tasks [][]string) int {
	var text strings.Builder
	for _, m := range msgs {
		var v any
		if json.Unmarshal(m.Body, &v) == nil {
			collectStrings(&text, v)
		}
	}
	all := text.String()
	n := 0
	for _, names := range tasks {
		if slices.ContainsFunc(names, func(s string) bool { return s != "" && strings.Contains(all, s) }) {
			n++
		}
	}
	return n
}

// collectStrings writes every string of a decoded JSON value, one a line.
func collectStrings(b *strings.Builder, v any) {
	switch x := v.(type) {
	case string:
		b.WriteString(x)
		b.WriteByte('\n')
	case []any:
		for _, e := range x {
			collectStrings(b, e)
		}
	case map[string]any:
		for _, e := range x {
			collectStrings(b, e)
		}
	}
}
