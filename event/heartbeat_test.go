package event

import "testing"

func TestHeartbeatSubjectAndSummary(t *testing.T) {
	if got := HeartbeatSubject(""); got != "dcs.migration._watcher.heartbeat" {
		t.Errorf("HeartbeatSubject(\"\") = %q", got)
	}
	if got := HeartbeatSubject("acme.dcs"); got != "acme.dcs._watcher.heartbeat" {
		t.Errorf("HeartbeatSubject(acme.dcs) = %q", got)
	}
	d := Data{Kind: Heartbeat, ProjectID: WatcherProject, Heartbeat: &HeartbeatData{Replica: "host-1-ab", Seq: 7, Replicas: 2,
		Projects: []HeartbeatProject{{ProjectID: "p1"}}}}
	if got, want := d.Summary(), "watcher host-1-ab: heartbeat 7: polls 1 project(s), 2 replica(s) alive"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	if out, sev := Classify(Heartbeat, ""); out != OutcomeUnknown || sev != SeverityInfo {
		t.Errorf("Classify(heartbeat) = %s, %s; want unknown, info", out, sev)
	}
}
