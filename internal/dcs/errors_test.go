package dcs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"-3", 0}, {"5", 5 * time.Second}, {"soon", 0},
		{"999999999999", 24 * time.Hour},
		{testNow.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{testNow.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in, testNow); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestClass(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("other"), ""},
		{context.Canceled, ""},
		{ErrGone, "gone"},
		{fmt.Errorf("poll: %w", &APIError{Op: "show", Class: ErrAuth}), "auth"},
		{&APIError{Class: ErrThrottled}, "throttled"},
		{&APIError{Class: ErrRetryable}, "unavailable"},
		{&APIError{Class: ErrBadResponse}, "bad_response"},
		{&APIError{Class: ErrRequest}, "request"},
	}
	for _, tt := range tests {
		if got := Class(tt.err); got != tt.want {
			t.Errorf("Class(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestCleanMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"  padded\n", "padded"},
		{"line1\nline2\ttab", "line1 line2 tab"},
		{"ak " + testAK + " sk " + testSK, "ak <secret> sk <secret>"},
		{strings.Repeat("é", 250), strings.Repeat("é", 200) + "..."},
	}
	for _, tt := range tests {
		if got := cleanMessage(tt.in, testAK, testSK, ""); got != tt.want {
			t.Errorf("cleanMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
