// Package state keeps the last snapshot of every watched task. Snapshots
// live in a JetStream KV bucket so that they survive restarts and are shared
// by replicas; every write is a compare-and-swap on the entry's revision, so
// two writers never both advance one snapshot. An in-memory copy serves the
// comparisons of each poll, and KV is written only when something changed.
// A record also carries the outbox of events its change still owes.
package state
