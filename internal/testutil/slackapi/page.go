package slackapi

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// limits are a method's default and largest page size.
type limits struct{ def, max int }

// Slack's: conversations.history pages 100 messages unless told, at most
// 999; conversations.replies 1,000 unless told, at most 1,000.
var (
	historyLimits = limits{def: 100, max: 999}
	repliesLimits = limits{def: 1000, max: 1000}
)

// page answers a paginated read as Slack does: msgs, in the method's order
// (history newest first, replies oldest first), kept between oldest and
// latest (each excluded unless inclusive=1), from the cursor on, at most
// limit of them; has_more and response_metadata.next_cursor (an opaque
// base64 of "next_ts:<ts>", as Slack's look) say where the next page
// starts. A thread's parent, when given, is the first message of the
// first page whatever the time range, as Slack answers; later pages omit
// it. from says whether a message is at or past the cursor's ts.
func page(msgs []*Message, parent *Message, form map[string]string, l limits, from func(m *Message, at string) bool) map[string]any {
	n := l.def
	if v, err := strconv.Atoi(form["limit"]); err == nil && v > 0 {
		n = min(v, l.max)
	}
	at := ""
	if c := form["cursor"]; c != "" {
		raw, err := base64.StdEncoding.DecodeString(c)
		ts, ok := strings.CutPrefix(string(raw), "next_ts:")
		if err != nil || !ok {
			return fail("invalid_cursor")
		}
		at, parent = ts, nil
	}
	incl := form["inclusive"] == "1" || form["inclusive"] == "true"
	meta := form["include_all_metadata"] == "1" || form["include_all_metadata"] == "true"
	var out []map[string]any
	if parent != nil {
		out = append(out, view(parent, meta))
	}
	next := ""
	for _, m := range msgs {
		if !inRange(m.TS, form["oldest"], form["latest"], incl) || (at != "" && !from(m, at)) {
			continue
		}
		if len(out) == n {
			next = base64.StdEncoding.EncodeToString([]byte("next_ts:" + m.TS))
			break
		}
		out = append(out, view(m, meta))
	}
	answer := map[string]any{"ok": true, "messages": out, "has_more": next != ""}
	if next != "" {
		answer["response_metadata"] = map[string]any{"next_cursor": next}
	}
	return answer
}

// inRange says whether ts lies between oldest and latest ("" or "0": no
// bound). Slack's ts are "<seconds>.<6 digits>" and compare as numbers.
func inRange(ts, oldest, latest string, inclusive bool) bool {
	t := tsValue(ts)
	if oldest != "" && oldest != "0" {
		if o := tsValue(oldest); t < o || (t == o && !inclusive) {
			return false
		}
	}
	if latest != "" && latest != "0" {
		if l := tsValue(latest); t > l || (t == l && !inclusive) {
			return false
		}
	}
	return true
}

// tsValue is ts in microseconds; 0 if it is not a Slack ts.
func tsValue(ts string) int64 {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0
	}
	frac = (frac + "000000")[:6]
	f, _ := strconv.ParseInt(frac, 10, 64)
	return s*1_000_000 + f
}
