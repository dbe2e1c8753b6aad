package slackwire

import (
	"net/http"
	"testing"
	"time"
)

// Slack sends seconds; an HTTP date is legal too; junk gets the default.
func TestRetryAfter(t *testing.T) {
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		in       string
		min, max time.Duration
	}{
		{"1", time.Second, time.Second},
		{" 120 ", 2 * time.Minute, 2 * time.Minute},
		{"0", 0, 0},
		{"", defaultRetryAfter, defaultRetryAfter},
		{"soon", defaultRetryAfter, defaultRetryAfter},
		{"-5", defaultRetryAfter, defaultRetryAfter},
		{future, 80 * time.Second, 90 * time.Second},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in); got < tt.min || got > tt.max {
			t.Errorf("retryAfter(%q) = %s, want %s..%s", tt.in, got, tt.min, tt.max)
		}
	}
}
