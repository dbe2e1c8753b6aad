package dcs

import (
	"strings"
	"time"
)

// parseTime reads a time as the API writes it: the detail example uses
// 2019/10/22 14:44:30, the file list documents YYYY-MM-DD HH:MM:SS, the log
// API uses RFC 3339. Most API times carry no zone; those are taken as UTC,
// which the API does not document. The result is always in UTC. ok is false
// for an empty or unreadable value.
func parseTime(raw string) (t time.Time, ok bool) {
	// time.Parse accepts a fractional second after the seconds even when the
	// layout has none, so these cover "...:05.123" too.
	layouts := [...]string{
		"2006/01/02 15:04:05",
		"2006-01-02 15:04:05",
		time.RFC3339,
		"2006-01-02T15:04:05",
		"2006-01-02 15:04:05Z07:00",
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return time.Time{}, false
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, raw); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
