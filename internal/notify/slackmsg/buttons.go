package slackmsg

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// The card's buttons (bot mode with an app-level token: Socket Mode
// brings their clicks back, see package slackact). The action ids and the
// block id are what the handler reads back; they hold no secret.
const (
	ActionsBlockID    = "dcs_watcher_actions"
	ActionAcknowledge = "dcs_watcher_ack"
	ActionSilence     = "dcs_watcher_silence"
	ActionShowLog     = "dcs_watcher_log"
	// ActionConsole is the link button: Slack opens the URL and still
	// sends the click, which is acked and ignored.
	ActionConsole = "dcs_watcher_console"
	// maxButtonValue is Slack's limit for a button's value; maxButtonURL
	// for a link button's url.
	maxButtonValue = 2000
	maxButtonURL   = 3000
)

// ButtonValue is what each of a card's buttons carries: the task and the
// incident the card showed when it was drawn, so that a click on an old
// card does not act on a newer incident.
type ButtonValue struct {
	Project  string `json:"p"`
	TaskID   string `json:"t"`
	Region   string `json:"r,omitempty"`
	Incident string `json:"i"`
}

// Encode is v as a button's value.
func (v ButtonValue) Encode() string {
	b, _ := json.Marshal(v) // strings only: cannot fail
	return string(b)
}

// DecodeButtonValue reads a button's value back; an error says it is not
// one of the watcher's.
func DecodeButtonValue(s string) (ButtonValue, error) {
	var v ButtonValue
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return v, fmt.Errorf("button value: %w", err)
	}
	if v.Project == "" || v.TaskID == "" || v.Incident == "" {
		return v, errors.New("button value: no project, task or incident")
	}
	return v, nil
}

// Attention is what people did about a card's incident, and whether the
// card offers buttons. The zero Attention draws the card as RenderCard
// does.
type Attention struct {
	// Buttons: an app token is configured, so clicks come back.
	Buttons bool
	// ConsoleURL is the task in the Huawei Cloud console ("": no link).
	ConsoleURL string
	// NoSilence leaves the Silence button out (no silence store).
	NoSilence bool
	// AckBy (a Slack user id) acknowledged the incident at AckAt.
	AckBy string
	AckAt time.Time
	// SilenceID silences the task until SilencedUntil; the caller gives
	// only a silence still running (the renderer reads no clock).
	SilenceID     string
	SilencedUntil time.Time
}

// SilenceFor is how long the Silence button silences a task.
const SilenceFor = 2 * time.Hour

// Incident names the open incident of the card, the one its buttons act
// on: the failure, named by its status and since when, so that a task
// that recovers and fails again opens a new one; "" when the card shows
// none (no buttons).
func Incident(r *Card) string {
	if r.Norm.Outcome() != dcs.OutcomeFailed || len(r.Spans) == 0 {
		return ""
	}
	s := r.Spans[len(r.Spans)-1]
	return s.Status + "@" + s.Since.UTC().Format(time.RFC3339)
}

// userID is what a Slack user id looks like; anything else is shown
// escaped, never as a mention.
var userID = regexp.MustCompile(`^[UW][A-Z0-9]{2,40}$`)

// RenderCardWith is RenderCard with the attention shown: who acknowledged
// and when, the silence and until when (a context block above the
// card's last line), and, on a card with an incident when buttons are on,
// an actions block: Acknowledge (until someone has), Silence 2h (until
// silenced), Show log, and the console link.
func RenderCardWith(r *Card, a Attention) slack.WebhookMessage {
	msg := RenderCard(r)
	var lines []string
	if a.AckBy != "" {
		lines = append(lines, ":white_check_mark: Acknowledged by "+who(a.AckBy)+" at "+a.AckAt.UTC().Format("Jan 2 15:04 UTC"))
	}
	if a.SilenceID != "" {
		lines = append(lines, ":no_bell: Silenced until "+a.SilencedUntil.UTC().Format("Jan 2 15:04 UTC")+" (silence "+code(a.SilenceID, maxID)+")")
	}
	var extra []slack.Block
	if len(lines) > 0 {
		extra = append(extra, slack.NewContextBlock("", md(clipEscaped(strings.Join(lines, "\n"), maxFieldText))))
	}
	if b := actions(r, a); b != nil {
		extra = append(extra, b)
	}
	if len(extra) == 0 {
		return msg
	}
	set := msg.Blocks.BlockSet
	last := set[len(set)-1]
	out := append(append(append([]slack.Block{}, set[:len(set)-1]...), extra...), last)
	msg.Blocks = &slack.Blocks{BlockSet: out}
	return msg
}

func who(user string) string {
	if userID.MatchString(user) {
		return "<@" + user + ">"
	}
	return escClip(user, maxID)
}

// actions is the card's actions block; nil when buttons are off or the
// card has no incident.
func actions(r *Card, a Attention) slack.Block {
	incident := Incident(r)
	if !a.Buttons || incident == "" {
		return nil
	}
	value := ButtonValue{Project: r.Project, TaskID: r.TaskID, Region: r.Region, Incident: incident}.Encode()
	var els []slack.BlockElement
	if len(value) <= maxButtonValue {
		if a.AckBy == "" {
			els = append(els, button(ActionAcknowledge, "Acknowledge", value, slack.StylePrimary))
		}
		if a.SilenceID == "" && !a.NoSilence {
			els = append(els, button(ActionSilence, "Silence "+Humanize(SilenceFor), value, ""))
		}
		els = append(els, button(ActionShowLog, "Show log", value, ""))
	}
	if a.ConsoleURL != "" && len(a.ConsoleURL) <= maxButtonURL {
		b := slack.NewButtonBlockElement(ActionConsole, "", slack.NewTextBlockObject(slack.PlainTextType, "Open in console", false, false))
		b.URL = a.ConsoleURL
		els = append(els, b)
	}
	if len(els) == 0 {
		return nil
	}
	return slack.NewActionBlock(ActionsBlockID, els...)
}

func button(id, label, value string, style slack.Style) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(id, value, slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
	if style != "" {
		b.Style = style
	}
	return b
}
