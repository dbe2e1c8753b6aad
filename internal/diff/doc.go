// Package diff decides what changed between two snapshots of a DCS migration
// task and which events that makes. It is pure: no I/O, no clock, no
// randomness, and it imports nothing of the watcher but the dcs.Task type and
// the event contract (package event), whose kinds and field changes it makes.
// Diff flattens two snapshots of a task into JSON paths and turns them into
// Discovered, StatusChanged, TaskStatusChanged or Changed events; Removed,
// Degraded and Recovered build the events the poller decides on by itself
// (a task gone, the watcher blind, the watcher seeing again).
// Every event carries private copies of the snapshots and a deterministic ID
// derived from its content; Event.At stamps it with the project and the KV
// revision it was diffed against, so that detecting the same change twice
// yields the same ID (JetStream's duplicate window drops the second one)
// while a genuine repeat of a change gets a new one.
package diff
