package dcs_test

import (
	"testing"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// TestStatusOutcome: every status has an outcome, the one events carry:
// a known status that is not terminal is in progress, a status the watcher
// does not know (or none) is unknown.
func TestStatusOutcome(t *testing.T) {
	for raw, want := range map[string]dcs.Outcome{
		"RUNNING": dcs.OutcomeInProgress, "CREATING": dcs.OutcomeInProgress, "INCRMIGRATING": dcs.OutcomeInProgress,
		"TERMINATING": dcs.OutcomeInProgress, "SUCCESS": dcs.OutcomeSucceeded, "MIGRATION_SUCCESS": dcs.OutcomeSucceeded,
		"FAILED": dcs.OutcomeFailed, "MIGRATION_FAILED": dcs.OutcomeFailed, "ERROR": dcs.OutcomeFailed,
		"TERMINATED": dcs.OutcomeStopped, "RELEASED": dcs.OutcomeStopped, "DELETED": dcs.OutcomeStopped,
		"WEIRD_NEW_STATE": dcs.OutcomeUnknown, "": dcs.OutcomeUnknown,
	} {
		if got := dcs.Normalize(raw).Outcome(); got != want {
			t.Errorf("%q: outcome %q, want %q", raw, got, want)
		}
	}
}
