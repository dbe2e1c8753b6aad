package event

import "time"

// Heartbeat is the kind of the watcher's own liveness events: every
// replica publishes one every heartbeat.every on HeartbeatSubject, so that
// their absence can be alerted on (docs/heartbeat.md). It is not one of
// Kinds: it is about no task, it is never posted to Slack, and the
// config's kind filters refuse it.
const Heartbeat Kind = "heartbeat"

// WatcherProject is the project token of events about the watcher itself
// rather than one project: the heartbeat, and the store and Slack reports
// of a watcher of several projects.
const WatcherProject = "_watcher"

// HeartbeatSubject is the subject heartbeats are published on:
// "<prefix>._watcher.heartbeat", two tokens after the prefix where every
// task event has five (Subject), so that a filter of five tokens or more
// ("<prefix>.*.*.*.*.>") never sees it and "<prefix>._watcher.heartbeat"
// sees only it. An empty prefix is DefaultPrefix.
func HeartbeatSubject(prefix string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + "." + WatcherProject + "." + string(Heartbeat)
}

// HeartbeatData is Data.Heartbeat: who is alive, and what it last did.
type HeartbeatData struct {
	// Version is the watcher's build ("v1.4.0", "(devel)").
	Version string `json:"version"`
	// Replica identifies the process; Started is when it started and Seq
	// counts its heartbeats from 1, so that a restart shows as a new
	// Started and a gap in Seq as heartbeats lost.
	Replica string    `json:"replica"`
	Started time.Time `json:"started"`
	Seq     uint64    `json:"seq"`
	// Replicas is how many replicas this one sees alive (itself included;
	// 1 with the embedded server).
	Replicas int `json:"replicas"`
	// Projects are the projects this replica polls now (their lease held),
	// none for a replica that leads none.
	Projects []HeartbeatProject `json:"projects"`
}

// HeartbeatProject is a project a replica polls and when its last cycle
// succeeded (its list and detail calls all answered, everything stored);
// LastSuccess is null until one did.
type HeartbeatProject struct {
	ProjectID   string     `json:"project_id"`
	Region      string     `json:"region,omitempty"`
	LastSuccess *time.Time `json:"last_success"`
}
