package config

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

func TestAttentionDefaults(t *testing.T) {
	a := Default().Attention
	if a.StallAfter != 15*time.Minute || a.LagGrowingFor != 10*time.Minute || a.MaxLag != 0 {
		t.Errorf("stall_after %s, lag_growing_for %s, max_lag %d; want 15m, 10m, 0 (off)", a.StallAfter, a.LagGrowingFor, a.MaxLag)
	}
	want := map[dcs.Status]time.Duration{dcs.StatusRunning: time.Hour, dcs.StatusTerminating: 30 * time.Minute}
	if got := a.Allowances(); !maps.Equal(got, want) {
		t.Errorf("allowances %v, want %v", got, want)
	}
}

// TestAttentionFile: a file's max_in_status entries add to the defaults
// (spelled as the API spells them), and 0 removes one.
func TestAttentionFile(t *testing.T) {
	yaml := "attention:\n  stall_after: 20m\n  max_lag: 50000\n  max_in_status:\n    INCRMIGRATING: 72h\n    TERMINATING: 0s\n"
	c, err := Parse([]byte(yaml), "t.yaml", testEnv(credsEnv()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[dcs.Status]time.Duration{dcs.StatusRunning: time.Hour, dcs.StatusIncrMigrating: 72 * time.Hour}
	if got := c.Attention.Allowances(); !maps.Equal(got, want) || c.Attention.StallAfter != 20*time.Minute || c.Attention.MaxLag != 50000 {
		t.Errorf("attention %+v (allowances %v), want stall_after 20m, max_lag 50000, allowances %v", c.Attention, got, want)
	}
	_, err = Parse([]byte("attention:\n  stall_aftr: 20m\n"), "t.yaml", testEnv(credsEnv()))
	if err == nil || !strings.Contains(err.Error(), `unknown key "attention.stall_aftr" (did you mean "attention.stall_after"?)`) {
		t.Errorf("misspelt key: error %v", err)
	}
}

func TestAttentionValidation(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*AttentionConfig)
		key    string
		want   string
	}{
		{"stall", func(a *AttentionConfig) { a.StallAfter = -time.Minute }, "attention.stall_after", "must be 0 (off) or above"},
		{"growing", func(a *AttentionConfig) { a.LagGrowingFor = -time.Minute }, "attention.lag_growing_for", "must be 0 (off) or above"},
		{"max lag", func(a *AttentionConfig) { a.MaxLag = -1 }, "attention.max_lag", "must be 0 (off) or above"},
		{"status", func(a *AttentionConfig) { a.MaxInStatus["RUNNIN"] = time.Hour }, "attention.max_in_status.RUNNIN", `unknown status "RUNNIN"`},
		{"terminal", func(a *AttentionConfig) { a.MaxInStatus["SUCCESS"] = time.Hour }, "attention.max_in_status.SUCCESS", "SUCCESS is terminal"},
		{"negative", func(a *AttentionConfig) { a.MaxInStatus["RUNNING"] = -time.Hour }, "attention.max_in_status.RUNNING", "must be 0 (none) or above"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.modify(&c.Attention)
			errs := fieldErrors(c.Validate())
			if len(errs) != 1 || errs[0].Key != tc.key || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("errors %v, want one at %s with %q", errs, tc.key, tc.want)
			}
		})
	}
}
