package silence

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dcs-watcher/watcher/internal/notify"
)

// Window is a maintenance window (slack.mute_windows): a silence of Match
// from each activation of Schedule for Duration, id "window:<name>".
type Window struct {
	Name     string
	Schedule cron.Schedule
	Duration time.Duration
	Match    notify.Match
}

// NewWindow parses spec as poll.schedule is parsed (cron.ParseStandard:
// five fields or a descriptor, in the watcher's local time zone unless
// the spec starts with CRON_TZ=<zone>).
func NewWindow(name, spec string, d time.Duration, m notify.Match) (Window, error) {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return Window{}, fmt.Errorf("mute window %s: schedule %q: %w", name, spec, err)
	}
	if d <= 0 {
		return Window{}, fmt.Errorf("mute window %s: duration must be positive, got %s", name, d)
	}
	return Window{Name: name, Schedule: sched, Duration: d, Match: m}, nil
}

// ID is the window's silence id.
func (w Window) ID() string { return WindowPrefix + w.Name }

// Active says whether the window holds events observed at now, and if so
// since when and until when: from its latest activation at or before now,
// for Duration (activations closer than Duration extend it).
func (w Window) Active(now time.Time) (start, end time.Time, ok bool) {
	// A spec without CRON_TZ follows the time zone of the time it is
	// given: the watcher's, as the poller's schedule does.
	local := now.In(time.Local)
	t := w.Schedule.Next(local.Add(-w.Duration))
	if t.IsZero() || t.After(local) {
		return time.Time{}, time.Time{}, false
	}
	for next := w.Schedule.Next(t); !next.IsZero() && !next.After(local); next = w.Schedule.Next(next) {
		t = next
	}
	return t, t.Add(w.Duration), true
}
