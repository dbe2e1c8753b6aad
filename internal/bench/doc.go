// Package bench holds the reusable parts of `watcher bench`: the raw loop
// that measures what the simulator can serve to a bare client (the limit a
// watcher is compared with), latency percentiles and the matching of
// observed events to planned changes, the process's own CPU time, RSS and Go
// heap, a Slack incoming-webhook sink that enforces Slack's rate of one
// message per second per channel, and child processes (the simulator runs
// in one, so that the bench's CPU and memory figures are the watcher's
// alone). The phases themselves live in cmd/watcher, next to the wiring
// they measure.
package bench
