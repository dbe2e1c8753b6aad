package slackmsg

import (
	"strings"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// reasonField is the field of diff's changes that holds the API's error
// message, the reason of a failure.
const reasonField = "error_message"

// lateReason says whether d is the reason of a failure that arrived after
// the failure was reported: a changed event, on a task whose status is a
// failure, whose changes give error_message a value. The API may name the
// reason a cycle after the status (the list row and the detail call are
// read apart), and the engineer who saw the FAILED without one wants it.
func lateReason(d notify.Data) bool {
	if d.Kind != diff.Changed {
		return false
	}
	if cur, ok := currentStatus(d); !ok || !cur.known || cur.norm.Outcome() != dcs.OutcomeFailed {
		return false
	}
	for _, c := range d.Changes {
		if c.Field == reasonField && strings.TrimSpace(c.New) != "" {
			return true
		}
	}
	return false
}

// AsFollowUp is d as the kind filter (slack.kinds) and the routes judge it:
// a late reason is the follow-up of its failure, so it goes where the
// FAILED went, as a status_changed to the same status would (its kind,
// outcome and severity), even though changed events are not posted by
// default. Every other event is judged as it is.
func AsFollowUp(d notify.Data) notify.Data {
	if !lateReason(d) {
		return d
	}
	cur, _ := currentStatus(d)
	d.Kind = diff.StatusChanged
	d.Outcome, d.Severity = event.Classify(diff.StatusChanged, cur.norm)
	return d
}

// what says what happened, as notify.Data.What does, but a late reason
// says so: "reason for the failure" rather than the field's change.
func what(d notify.Data, esc func(string) string) string {
	if lateReason(d) {
		return "reason for the failure"
	}
	return d.What(esc)
}
