package dcs

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		in     string
		want   time.Time
		wantOK bool
	}{
		{"2019/10/22 14:44:30", utc(2019, 10, 22, 14, 44, 30, 0), true},
		{"2019-10-22 14:44:30", utc(2019, 10, 22, 14, 44, 30, 0), true},
		{" 2019-10-22 14:44:30 ", utc(2019, 10, 22, 14, 44, 30, 0), true},
		{"2019-10-22 14:44:30.250", utc(2019, 10, 22, 14, 44, 30, 250e6), true},
		{"2019-10-22T14:44:30Z", utc(2019, 10, 22, 14, 44, 30, 0), true},
		{"2019-10-22T14:44:30.123456789Z", utc(2019, 10, 22, 14, 44, 30, 123456789), true},
		{"2019-10-22T22:44:30+08:00", utc(2019, 10, 22, 14, 44, 30, 0), true},
		{"2019-10-22T14:44:30", utc(2019, 10, 22, 14, 44, 30, 0), true},
		{"2019-10-22T14:44:30.5", utc(2019, 10, 22, 14, 44, 30, 5e8), true},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"2019/13/22 14:44:30", time.Time{}, false},
		{"1571755470", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := parseTime(tt.in)
		if ok != tt.wantOK || !got.Equal(tt.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
		if ok && got.Location() != time.UTC {
			t.Errorf("parseTime(%q) location %v, want UTC", tt.in, got.Location())
		}
	}
}
