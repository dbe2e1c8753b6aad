package poller

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestSpendLogs: a cycle's logs calls come out of its stats calls when a
// budget bounds them, the last picked first; without a budget they cost
// the stats calls nothing.
func TestSpendLogs(t *testing.T) {
	stats := []string{"a", "b", "c", "d"}
	for _, tc := range []struct {
		left, logs int
		want       []string
	}{
		{left: -1, logs: 3, want: stats},     // no budget
		{left: 4, logs: 0, want: stats},      // no logs calls
		{left: 4, logs: 1, want: stats[:3]},  // one logs call: the last stats call waits
		{left: 6, logs: 1, want: stats},      // room for both
		{left: 4, logs: 9, want: []string{}}, // more logs calls than room
	} {
		if got := spendLogs(slices.Clone(stats), tc.left, tc.logs); !slices.Equal(got, tc.want) {
			t.Errorf("spendLogs(left %d, logs %d) = %v, want %v", tc.left, tc.logs, got, tc.want)
		}
	}
}

func TestClip(t *testing.T) {
	s := strings.Repeat("é", 1000) // 2 bytes each
	got := clip(s, 1001)
	if len(got) > 1001 || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("clip: %d bytes, valid %v, %q at the end", len(got), utf8.ValidString(got), got[len(got)-6:])
	}
	if clip("short", 10) != "short" {
		t.Errorf("clip cut a short string")
	}
}
