// Package poller runs the watch cycle: on each cron tick it decides which
// tasks to look at (configured ids and/or every task the list call returns),
// fetches their details with bounded concurrency under a client-side rate
// limit, diffs each against its stored snapshot, publishes the resulting
// events and only then advances the snapshot. It also turns failures to see
// a task, or the API, into watch_degraded / watch_recovered events, once per
// episode.
package poller
