package event_test

import (
	"testing"

	"github.com/dcs-watcher/watcher/event"
)

// TestStatusOutcome: every status has an outcome, the one events carry:
// a known status that is not terminal is in progress, a status the watcher
// does not know (or none) is unknown.
func TestStatusOutcome(t *testing.T) {
	for raw, want := range map[string]event.Outcome{
		"RUNNING": event.OutcomeInProgress, "CREATING": event.OutcomeInProgress, "INCRMIGRATING": event.OutcomeInProgress,
		"TERMINATING": event.OutcomeInProgress, "SUCCESS": event.OutcomeSucceeded, "MIGRATION_SUCCESS": event.OutcomeSucceeded,
		"FAILED": event.OutcomeFailed, "MIGRATION_FAILED": event.OutcomeFailed, "ERROR": event.OutcomeFailed,
		"TERMINATED": event.OutcomeStopped, "RELEASED": event.OutcomeStopped, "DELETED": event.OutcomeStopped,
		"WEIRD_NEW_STATE": event.OutcomeUnknown, "": event.OutcomeUnknown,
	} {
		if got := event.Normalize(raw).Outcome(); got != want {
			t.Errorf("%q: outcome %q, want %q", raw, got, want)
		}
	}
}

// TestStatusInfoRead: the one reader of an envelope's status, for the
// summary and Slack: either spelling stands in for the other, nothing is
// no status, and known is this version's judgement, not the envelope's.
func TestStatusInfoRead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		si    *event.StatusInfo
		raw   string
		norm  event.Status
		ok    bool
		known bool
	}{
		{"none", nil, "", "", false, false},
		{"empty", &event.StatusInfo{}, "", "", false, false},
		{"both", &event.StatusInfo{Raw: "incrmigrating", Normalized: "INCRMIGEATING"}, "incrmigrating", event.StatusIncrMigrating, true, true},
		{"raw only", &event.StatusInfo{Raw: "IncrMigrating"}, "IncrMigrating", event.StatusIncrMigrating, true, true},
		{"normalized only", &event.StatusInfo{Normalized: "FAILED"}, "FAILED", event.StatusFailed, true, true},
		{"unknown, though the envelope says known", &event.StatusInfo{Raw: "PAUSED", Normalized: "PAUSED", Known: true}, "PAUSED", "PAUSED", true, false},
	} {
		raw, norm, ok := tc.si.Read()
		if raw != tc.raw || norm != tc.norm || ok != tc.ok || norm.Known() != tc.known {
			t.Errorf("%s: Read() = %q, %q, %v (known %v), want %q, %q, %v (known %v)",
				tc.name, raw, norm, ok, norm.Known(), tc.raw, tc.norm, tc.ok, tc.known)
		}
	}
}
