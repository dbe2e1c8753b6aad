// Package attention decides when a task needs a look although its status
// says nothing new: full-migration progress that stopped moving, an
// incremental lag too high or growing, a task left too long in one status.
// It is pure (no I/O, no clock): Detect is given what the poller knows of
// a task (its status and since when, its recent progress samples, the
// episodes its record keeps open) and says which episodes open and which
// clear. Each condition has at most one open episode per task: it is
// opened once and cleared once (on recovery, when the status that held it
// ends, or when the task leaves), never reported again in between; the lag
// limit clears with hysteresis, so a lag that hovers at the limit does not
// flap. The poller keeps the episodes with the task's record, so they are
// committed with the events that report them, by the same compare-and-swap.
package attention
