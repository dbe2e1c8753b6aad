package config

import (
	"strings"
	"testing"
)

// TestUnquotedReservedValueHint: an unquoted value that starts with @ (a
// cron descriptor) or ` is a YAML syntax error; the error names the line
// and says to quote the value, as it should be written.
func TestUnquotedReservedValueHint(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"poll:\n  schedule: @every 5s\n", `t.yaml:2: found character that cannot start any token (a value cannot start with @ unless quoted: schedule: "@every 5s")`},
		{"log:\n  level: `debug`\n", "(a value cannot start with ` unless quoted: level: \"`debug`\")"},
	} {
		_, err := Parse([]byte(tc.yaml), "t.yaml", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to hold %s", tc.yaml, err, tc.want)
		}
	}
	// Another syntax error gets no such hint.
	if _, err := Parse([]byte("poll:\n  schedule: [\n"), "t.yaml", nil); err == nil || strings.Contains(err.Error(), "unless quoted") {
		t.Errorf("unclosed flow sequence: %v, want a syntax error without the quoting hint", err)
	}
}
