package slackmsgtest

import (
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// LateText is the reason ReasonArrives brings.
const LateText = "source <refused> the sync"

// ReasonArrives is the changed event that brings the reason of a FAILED
// reported without one.
func ReasonArrives(id, name string) notify.Envelope {
	prev, curr := Task(name, "FAILED"), Task(name, "FAILED")
	curr.ErrorMessage = LateText
	env := Envelope(id, diff.Changed, prev, curr, 0)
	env.Data.Changes = []diff.FieldChange{{Field: "error_message", Old: "", New: LateText}}
	return env
}

// DescrChanged is a changed event of a FAILED task that is not its
// reason.
func DescrChanged() notify.Envelope {
	env := Envelope("ev-descr", diff.Changed, Task("orders", "FAILED"), Task("orders", "FAILED"), 0)
	env.Data.Changes = []diff.FieldChange{{Field: "description", Old: "", New: "x"}}
	return env
}
