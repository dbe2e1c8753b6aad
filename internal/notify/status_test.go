package notify_test

import (
	"testing"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// TestStatusInfoRead: the one reader of an envelope's status, for the
// summary and Slack: either spelling stands in for the other, nothing is
// no status, and known is this binary's judgement, not the envelope's.
func TestStatusInfoRead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		si    *notify.StatusInfo
		raw   string
		norm  dcs.Status
		ok    bool
		known bool
	}{
		{"none", nil, "", "", false, false},
		{"empty", &notify.StatusInfo{}, "", "", false, false},
		{"both", &notify.StatusInfo{Raw: "incrmigrating", Normalized: "INCRMIGEATING"}, "incrmigrating", dcs.StatusIncrMigrating, true, true},
		{"raw only", &notify.StatusInfo{Raw: "IncrMigrating"}, "IncrMigrating", dcs.StatusIncrMigrating, true, true},
		{"normalized only", &notify.StatusInfo{Normalized: "FAILED"}, "FAILED", dcs.StatusFailed, true, true},
		{"unknown, though the envelope says known", &notify.StatusInfo{Raw: "PAUSED", Normalized: "PAUSED", Known: true}, "PAUSED", "PAUSED", true, false},
	} {
		raw, norm, ok := tc.si.Read()
		if raw != tc.raw || norm != tc.norm || ok != tc.ok || norm.Known() != tc.known {
			t.Errorf("%s: Read() = %q, %q, %v (known %v), want %q, %q, %v (known %v)",
				tc.name, raw, norm, ok, norm.Known(), tc.raw, tc.norm, tc.ok, tc.known)
		}
	}
}
