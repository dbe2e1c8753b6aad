package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAfter(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"  ", 0, false},
		{"0", 0, true},
		{"1", time.Second, true},
		{" 30 ", 30 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"999999999", maxAfter, true},
		{"Sun, 29 Nov 2026 12:00:10 GMT", 10 * time.Second, true},
		{"Sun, 29 Nov 2026 11:00:00 GMT", 0, true},
		{"Mon, 30 Nov 2099 12:00:00 GMT", maxAfter, true},
	}
	for _, tt := range tests {
		got, ok := After(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("After(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestSleepUntil(t *testing.T) {
	if err := SleepUntil(context.Background(), time.Now().Add(-time.Second)); err != nil {
		t.Errorf("past time: %v, want nil", err)
	}
	start := time.Now()
	if err := SleepUntil(context.Background(), start.Add(20*time.Millisecond)); err != nil {
		t.Errorf("future time: %v, want nil", err)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Errorf("returned before the time")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := SleepUntil(ctx, time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}
