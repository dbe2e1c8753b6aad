package slackmsg

import (
	"fmt"
	"testing"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/slackmsgtest"
)

var (
	reasonArrives = slackmsgtest.ReasonArrives
	descrChanged  = slackmsgtest.DescrChanged
)

// TestLateReasonIs: which events are a late reason, and how routing
// judges them.
func TestLateReasonIs(t *testing.T) {
	late := reasonArrives("a", "orders").Data
	if !lateReason(late) {
		t.Fatal("a reason arriving on a FAILED task is not a late reason")
	}
	if d := AsFollowUp(late); d.Kind != diff.StatusChanged || d.Outcome != dcs.OutcomeFailed || d.Severity != notify.SeverityCritical {
		t.Errorf("follow-up judged as %s/%s/%s, want status_changed/failed/critical", d.Kind, d.Outcome, d.Severity)
	}
	running := reasonArrives("b", "orders").Data
	running.CurrentStatus = &notify.StatusInfo{Raw: "RUNNING", Normalized: string(dcs.StatusRunning)}
	cleared := reasonArrives("c", "orders").Data
	cleared.Changes[0].New = ""
	for name, d := range map[string]notify.Data{"running": running, "cleared": cleared} {
		if lateReason(d) || AsFollowUp(d).Kind != diff.Changed {
			t.Errorf("%s: taken for a late reason", name)
		}
	}
	var burst []notify.Envelope
	for i := range 5 {
		burst = append(burst, reasonArrives(fmt.Sprintf("r%d", i), fmt.Sprintf("orders-%d", i)))
	}
	if keys := GroupKey(burst[0].Data); keys == GroupKey(descrChanged().Data) {
		t.Errorf("late reasons group with other changed events (%q)", keys)
	}
	parts := RenderGroup(burst)
	if h := headerText(parts[0].Msg); len(parts) != 1 || h != ":x: reason for the failure of 5 migration tasks" {
		t.Errorf("grouped late reasons: %d parts, header %q", len(parts), h)
	}
}
