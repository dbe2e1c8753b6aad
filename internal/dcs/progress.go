package dcs

import "github.com/dcs-watcher/watcher/event"

// Stats is a task's progress (the stats call); its type is the event
// contract's, where it travels in data.progress.
type Stats = event.Stats

// LogEntry is one line of a task's log (the logs call), as events carry it
// in data.log_tail.
type LogEntry = event.LogEntry

// LogQuery selects log lines: Level "" means every level; Limit 0 the
// API's default page.
type LogQuery struct {
	Level  string
	Offset int
	Limit  int
}
