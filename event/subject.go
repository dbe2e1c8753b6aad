package event

import "strings"

// DefaultPrefix is the watcher's default subject prefix
// (nats.subject_prefix); the stream, DefaultStream, holds "<prefix>.>".
const (
	DefaultPrefix = "dcs.migration"
	DefaultStream = "DCS_MIGRATION"
)

// Task tokens of events about no task: the API as a whole, the watcher's
// Slack delivery (Data.Scope ScopeSlack), its JetStream store (ScopeStore).
const (
	NoTask    = "_api"
	SlackTask = "_slack"
	StoreTask = "_store"
)

// Subject is the NATS subject of an event, token by token:
//
//	<prefix>.<project_id>.<task_id>.<kind>.<STATUS>.<outcome>
//
// STATUS is the task's current normalised status (the last known one for
// removed and watch_* events), NoStatus when there is none; outcome is
// Data.Outcome; the task token is NoTask, SlackTask or StoreTask for
// events about no task. Characters that NATS reserves ('.', '*', '>',
// whitespace) are replaced by '_' in every token but the prefix (Token).
type Subject struct {
	Prefix  string // "" is DefaultPrefix
	Project string
	Task    string
	Kind    Kind
	Status  Status
	Outcome Outcome
}

// Filter is the subject with every empty field a wildcard ('*'): the
// filter of a subscription or a consumer. Subject{Outcome: OutcomeFailed}
// selects every event about a failed task, whatever the spelling of its
// status: "dcs.migration.*.*.*.*.failed".
func (s Subject) Filter() string {
	tok := func(v string) string {
		if v == "" {
			return "*"
		}
		return Token(v)
	}
	return s.join(tok(s.Project), tok(s.Task), tok(string(s.Kind)), tok(string(s.Status)), tok(string(s.Outcome)))
}

// String is the concrete subject an event with these fields is published
// on: an empty Status is NoStatus, any other empty field "_".
func (s Subject) String() string {
	status := s.Status
	if status == "" {
		status = NoStatus
	}
	return s.join(Token(s.Project), Token(s.Task), Token(string(s.Kind)), Token(string(status)), Token(string(s.Outcome)))
}

func (s Subject) join(tokens ...string) string {
	p := s.Prefix
	if p == "" {
		p = DefaultPrefix
	}
	return p + "." + strings.Join(tokens, ".")
}

// Token makes s safe as one NATS subject token: "_" for "", and every
// character NATS reserves ('.', '*', '>', whitespace, control) replaced
// by '_'.
func Token(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '.' || r == '*' || r == '>' || r <= ' ' || r == 0x7f:
			return '_'
		}
		return r
	}, s)
}
