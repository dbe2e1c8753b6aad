package msgtmpl

import "time"

// MessageData is what a message template sees for one event. Every
// string comes prepared for display and escaped for the template's
// context: in mrkdwn texts '&', '<' and '>' of API text arrive as &amp;,
// &lt; and &gt;; in plain_text texts (header, group_header) as they are.
// A template never has to escape, and cannot emit API text unescaped.
type MessageData struct {
	// Kind is the event's kind (discovered, status_changed,
	// task_status_changed, changed, removed, watch_degraded,
	// watch_recovered); Scope narrows it (task, source, target for
	// task_status_changed; slack, store for watch_*), "" when none.
	Kind  string
	Scope string
	// Outcome (succeeded, failed, stopped, in_progress, unknown) and
	// Severity (critical, warning, info): see the README's table.
	Outcome  string
	Severity string
	// Emoji is the status emoji (":x:", ":white_check_mark:", ...).
	Emoji string
	// Name is what to call the task: its name, else its id, else "DCS
	// API", "Slack delivery" or "watcher store".
	Name      string
	TaskID    string
	ProjectID string
	Region    string
	// What says what happened in a few words: "FULLMIGRATING -> FAILED",
	// "discovered in MIGRATING", "removed (last seen SUCCESS)", ...
	What string
	// LineWhat is what a line of a grouped message says: What, or for
	// removed and watch_* the status the task was last seen in ("last seen
	// FAILED", "now MIGRATING"); "" when there is none.
	LineWhat string
	// From is the previous status (nil on first sight or when none), To
	// the current one (the last known for removed and watch_*; nil when
	// none).
	From *Status
	To   *Status
	// PreviousStatusFor is how long the task was in From, humanized
	// ("3m12s", "2h5m"); "" when unknown. PreviousStatusSeconds is the
	// same in seconds, 0 when unknown.
	PreviousStatusFor     string
	PreviousStatusSeconds float64
	// Source and Target are the instances of the task's last snapshot;
	// nil when there is no snapshot. They hold no password.
	Source *Instance
	Target *Instance
	// Reason is the API's error message (the watcher's reason for watch_*
	// events), "" when none; ReasonLabel names it ("Failure reason", "Why
	// the watcher is blind", "The watcher was blind because"). In a grouped
	// message whose events share one reason, the lines' Reason is "" (the
	// group shows it once).
	ReasonLabel string
	Reason      string
	// Condition is the attention condition of a stalled or resumed event
	// (progress_stalled, lag_high, lag_growing, status_too_long), ""
	// otherwise; ConditionLabel names it for people ("stalled full sync");
	// Since is when it began (RFC 3339, UTC), For how long it had lasted
	// when the event was seen (humanized), Figures what opened it (and,
	// for resumed, what it cleared at).
	Condition      string
	ConditionLabel string
	Since          string
	For            string
	Figures        string
	// LogTail is a failure's or a stall's last ERROR log lines, newest
	// first, one per line ("15:04:05 message"), secrets shown as
	// <secret>; "" when none. LogTailError is the error class of a logs
	// call that failed instead.
	LogTail      string
	LogTailError string
	// Changes are the changed fields, in the event's order, for changed and
	// task_status_changed events; an empty Old or New is "(none)".
	Changes []Change
	// MayHaveSkipped marks a status change seen after a time the watcher
	// could not observe the task; Gap says why.
	MayHaveSkipped bool
	Gap            string
	// Delayed marks a change seen while the watcher's store was
	// unreachable and published after it answered (Observed says when).
	Delayed bool
	// CatchUp is the id of the silence whose end this event reports: the
	// task is still failing or stalled (escaped).
	CatchUp string
	// EventID is the event's id; ObservedAt when the change was seen (zero
	// when unknown), Observed the same in RFC 3339, UTC ("" when unknown).
	EventID    string
	ObservedAt time.Time
	Observed   string
	// Mentions are the route's mentions in Slack's markup (<@U…>,
	// <!subteam^S…>, <!here>), from the config, not the API. The notifier
	// puts them in the message itself (a section after the header, the
	// start of the fallback text), so a template need not.
	Mentions []string
}

// Status is a task status as the API spelled it (Raw) and as the watcher
// reads it: Normalized (canonical spelling), Phase (pending, active,
// stopping, terminal), Known (false for a status this version does not
// know).
type Status struct {
	Raw        string
	Normalized string
	Phase      string
	Known      bool
}

// Instance is a migration's source or target: its name and its
// address(es) ("host:port", or the API's list); either may be "".
type Instance struct {
	Name string
	Addr string
}

// Change is one changed field: its name, old and new value.
type Change struct {
	Field string
	Old   string
	New   string
}

// GroupData is what the group_* templates see for one message of a
// grouped post (like events listed one line per task). Strings are
// escaped as in MessageData.
type GroupData struct {
	// Kind of every event of the group; Emoji that of the first.
	Kind  string
	Emoji string
	// Headline says what happened to the whole group: "25 migration tasks
	// -> FAILED", "watcher cannot see 3 migration tasks", ...
	Headline string
	// Count is the group's size; a group too large for one message is
	// split in parts: this is Part of Parts, listing tasks First to Last
	// (1-based). PartSuffix is " (part 2 of 3)" and PartOf "tasks 51-100
	// of 120", both "" when there is one part.
	Count      int
	Part       int
	Parts      int
	First      int
	Last       int
	PartSuffix string
	PartOf     string
	// Reason and ReasonLabel: the reason every event of the group gives,
	// "" when they differ or one has none.
	ReasonLabel string
	Reason      string
	// Project is the project every event names, "" when they differ.
	Project string
	// Observed is when this part's events were seen: "observed <time>" or
	// "observed <first> to <last>"; "" when unknown.
	Observed string
	// Tasks are this part's events, in order.
	Tasks    []MessageData
	Mentions []string
}
