// Package poller runs the watch cycle: on each cron tick it decides which
// tasks to look at (configured ids and/or every task the list call returns),
// fetches their details with bounded concurrency under a client-side rate
// limit, diffs each against its stored snapshot and commits the change
// through an outbox: the new snapshot and the events it owes are written in
// one compare-and-swap, then published, then cleared, and a record that
// still owes events is settled before its task is diffed again. A task the
// list stops showing is a suspect its own detail call decides on; a status
// change a list row shows is told from the row at once, and the task's
// detail call completes the snapshot later. It also
// turns failures to see a task, or the API, into watch_degraded /
// watch_recovered events, once per episode.
package poller
