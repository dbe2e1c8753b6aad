// Package bench is `watcher bench`: its phases (Run), which measure the real
// watcher (started through internal/app) against the DCS simulator, and the
// report tables they print. The simulator runs in a child process of the
// watcher binary, and the memory and idle measurements each in a fresh one,
// so that the bench's CPU and memory figures are the watcher's alone. Its
// parts: the raw loop that measures what the simulator can serve to a bare
// client (the limit a watcher is compared with), latency percentiles and the
// matching of observed events to planned changes, the process's own CPU
// time, RSS and Go heap, the coverage of a Slack burst by the messages a
// fake webhook (internal/testutil/slackhook, pacing at Slack's rate of one
// message per second per channel) accepted, and the child processes. The
// command (cmd/watcher) parses and checks the flags into Options.
package bench
