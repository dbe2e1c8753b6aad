package slack

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// Block Kit limits (api.slack.com/reference/block-kit): Slack rejects the
// whole message with invalid_blocks when one is exceeded, so every text is
// cut to fit rather than trusted to be short.
const (
	maxHeaderText  = 150
	maxSectionText = 3000
	maxFieldText   = 2000
	maxFields      = 10
	maxBlocks      = 50
	maxFallback    = 3000 // top-level text: Slack cuts at 40k, notifications show far less

	maxName    = 200 // a task or instance name inside a field
	maxAddrs   = 500
	maxID      = 200
	maxReason  = 2800 // leaves room for the label and the code fence
	maxChanges = 10
	maxChange  = 80 // one field name or value in the list of changes
)

// Emoji of a message, by kind first and then by the task's current status.
const (
	emojiSuccess   = ":white_check_mark:"
	emojiFailure   = ":x:"
	emojiActive    = ":arrows_counterclockwise:"
	emojiPending   = ":hourglass_flowing_sand:"
	emojiStopped   = ":octagonal_sign:"
	emojiWarning   = ":warning:"
	emojiRecovered = ":large_green_circle:"
	emojiRemoved   = ":wastebasket:"
)

// Render turns an envelope into a Block Kit message: a header with a status
// emoji, the task name and what happened; fields with project, task id,
// kind, status, source and target (names and addresses: the snapshot holds
// no password), the time spent in the previous status; the failure reason
// and the changed fields where there are any; and a plain-text fallback
// for notifications. Texts that come from the API are escaped and every
// Block Kit limit is respected.
func Render(env notify.Envelope) slack.WebhookMessage {
	d := env.Data
	name := taskName(d)

	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, header(emoji(d), name, transition(d, plain)), true, false)),
		slack.NewSectionBlock(nil, fields(d), nil),
	}
	if r := reasonBlock(d); r != nil {
		blocks = append(blocks, r)
	}
	if c := changesBlock(d); c != nil {
		blocks = append(blocks, c)
	}
	blocks = append(blocks, contextBlock(env))
	if len(blocks) > maxBlocks {
		blocks = blocks[:maxBlocks]
	}

	text := escape(name) + ": " + transition(d, escape)
	if d.ProjectID != "" {
		text += " (project " + escape(d.ProjectID) + ")"
	}
	return slack.WebhookMessage{
		Text:   clipEscaped(text, maxFallback),
		Blocks: &slack.Blocks{BlockSet: blocks},
	}
}

func taskName(d notify.Data) string { return d.Name() }

// status is a status as the watcher reads it: raw spelling for display,
// canonical form for the emoji.
type status struct {
	raw   string
	norm  dcs.Status
	known bool
}

func statusOf(si *notify.StatusInfo) (status, bool) {
	if si == nil || (si.Raw == "" && si.Normalized == "") {
		return status{}, false
	}
	n := dcs.Status(si.Normalized)
	if n == "" {
		n = dcs.Normalize(si.Raw)
	}
	raw := si.Raw
	if raw == "" {
		raw = string(n)
	}
	// Judged here, not taken from the envelope: the emoji must agree with
	// the status model this binary knows.
	return status{raw: raw, norm: n, known: n.Known()}, true
}

func currentStatus(d notify.Data) (status, bool) {
	if s, ok := statusOf(d.CurrentStatus); ok {
		return s, true
	}
	if d.Snapshot != nil && d.Snapshot.Status != "" {
		n := d.Snapshot.NormStatus()
		return status{raw: d.Snapshot.Status, norm: n, known: n.Known()}, true
	}
	return status{}, false
}

func emoji(d notify.Data) string {
	switch d.Kind {
	case diff.Removed:
		return emojiRemoved
	case diff.WatchDegraded:
		return emojiWarning
	case diff.WatchRecovered:
		return emojiRecovered
	}
	cur, ok := currentStatus(d)
	if !ok || !cur.known {
		return emojiWarning
	}
	switch cur.norm.Phase() {
	case dcs.PhasePending:
		return emojiPending
	case dcs.PhaseActive:
		return emojiActive
	case dcs.PhaseStopping:
		return emojiStopped
	case dcs.PhaseTerminal:
		switch cur.norm.Outcome() {
		case dcs.OutcomeSuccess:
			return emojiSuccess
		case dcs.OutcomeFailure:
			return emojiFailure
		}
		return emojiStopped
	}
	return emojiWarning
}

// transition is what happened, with each text from the API passed
// through esc.
func transition(d notify.Data, esc func(string) string) string { return d.What(esc) }

// header fits "<emoji> <name>: <what>" into the header limit, shortening
// the name first so that what happened stays readable.
func header(emoji, name, what string) string {
	prefix, suffix := emoji+" ", ": "+what
	room := maxHeaderText - utf8.RuneCountInString(prefix) - utf8.RuneCountInString(suffix)
	if room < 20 {
		room = 20
	}
	return clip(prefix+clip(name, room)+suffix, maxHeaderText)
}

func fields(d notify.Data) []*slack.TextBlockObject {
	var fs []string
	add := func(label, value string) {
		if value != "" && len(fs) < maxFields {
			fs = append(fs, clipEscaped("*"+label+"*\n"+value, maxFieldText))
		}
	}
	add("Project", code(d.ProjectID, maxID))
	add("Task ID", code(d.TaskID, maxID))
	kind := string(d.Kind)
	if d.Scope != "" {
		kind += " (" + d.Scope + ")"
	}
	add("Kind", escClip(kind, maxID))
	add("Status", statusField(d))
	if d.PreviousStatusSeconds != nil {
		add("Time in previous status", Humanize(time.Duration(*d.PreviousStatusSeconds*float64(time.Second))))
	}
	if t := d.Snapshot; t != nil {
		add("Source", instance(t.Source))
		add("Target", instance(t.Target))
	}
	add("Region", escClip(d.Region, maxID))
	out := make([]*slack.TextBlockObject, len(fs))
	for i, f := range fs {
		out[i] = slack.NewTextBlockObject(slack.MarkdownType, f, false, false)
	}
	return out
}

func statusField(d notify.Data) string {
	cur, ok := currentStatus(d)
	if !ok {
		return ""
	}
	now := code(cur.raw, maxID)
	if !cur.known {
		now += " (unknown status)"
	}
	if p, ok := statusOf(d.PreviousStatus); ok && d.Kind == diff.StatusChanged {
		prev := code(p.raw, maxID)
		if !p.known {
			prev += " (unknown status)"
		}
		return prev + " -> " + now
	}
	return now
}

func instance(in dcs.Instance) string {
	var lines []string
	if in.Name != "" {
		lines = append(lines, escClip(in.Name, maxName))
	}
	if in.Addrs != "" {
		lines = append(lines, code(in.Addrs, maxAddrs))
	} else if in.IP != "" {
		addr := in.IP
		if in.Port != "" {
			addr += ":" + in.Port
		}
		lines = append(lines, code(addr, maxAddrs))
	}
	return strings.Join(lines, "\n")
}

// reasonOf is the reason an event gives, raw, and how to label it: why
// the watcher is blind for watch_* events, else the API's error message.
// The reason is "" when there is none.
func reasonOf(d notify.Data) (label, reason string) {
	label = "Failure reason"
	switch d.Kind {
	case diff.WatchDegraded:
		label, reason = "Why the watcher is blind", d.Reason
	case diff.WatchRecovered:
		label, reason = "The watcher was blind because", d.Reason
	default:
		if d.Snapshot != nil {
			reason = d.Snapshot.ErrorMessage
		}
		if reason == "" {
			reason = d.Reason
		}
	}
	if strings.TrimSpace(reason) == "" {
		return label, ""
	}
	return label, reason
}

func reasonBlock(d notify.Data) slack.Block {
	label, reason := reasonOf(d)
	if reason == "" {
		return nil
	}
	text := "*" + label + "*\n```" + escClip(strings.ReplaceAll(reason, "```", "'''"), maxReason) + "```"
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, clipEscaped(text, maxSectionText), false, false), nil, nil)
}

func changesBlock(d notify.Data) slack.Block {
	if (d.Kind != diff.TaskStatusChanged && d.Kind != diff.Changed) || len(d.Changes) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("*Changed fields*")
	for i, c := range d.Changes {
		if i == maxChanges {
			fmt.Fprintf(&b, "\n…and %d more", len(d.Changes)-maxChanges)
			break
		}
		fmt.Fprintf(&b, "\n• %s: %s -> %s", code(c.Field, maxChange), code(notify.OrNone(c.Old), maxChange), code(notify.OrNone(c.New), maxChange))
	}
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, clipEscaped(b.String(), maxSectionText), false, false), nil, nil)
}

func contextBlock(env notify.Envelope) slack.Block {
	parts := []string{"event " + code(env.ID, maxID)}
	if !env.Time.IsZero() {
		parts = append(parts, "observed "+env.Time.UTC().Format(time.RFC3339))
	}
	text := clipEscaped(strings.Join(parts, " · "), maxFieldText)
	return slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, text, false, false))
}

// Humanize writes a duration the way an on-call engineer reads it, with
// its two largest units: "45s", "3m12s", "2h5m", "3d4h".
func Humanize(d time.Duration) string {
	d = d.Round(time.Second)
	if d < 0 {
		d = 0
	}
	const day = 24 * time.Hour
	two := func(n1 time.Duration, u1 string, n2 time.Duration, u2 string) string {
		if n2 == 0 {
			return fmt.Sprintf("%d%s", n1, u1)
		}
		return fmt.Sprintf("%d%s%d%s", n1, u1, n2, u2)
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	case d < time.Hour:
		return two(d/time.Minute, "m", d%time.Minute/time.Second, "s")
	case d < day:
		return two(d/time.Hour, "h", d%time.Hour/time.Minute, "m")
	default:
		return two(d/day, "d", d%day/time.Hour, "h")
	}
}

// escaper turns the three characters Slack's mrkdwn treats as control
// characters into entities, so that API text cannot form links or mentions.
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escape(s string) string { return escaper.Replace(s) }

func plain(s string) string { return s }

// escClip escapes s and cuts the result to max runes.
func escClip(s string, max int) string { return clipEscaped(escape(s), max) }

// code is s in an inline code span. A backtick inside would end the span
// early, so it is shown as a quote.
func code(s string, max int) string {
	if s == "" {
		return ""
	}
	return "`" + escClip(strings.ReplaceAll(s, "`", "'"), max) + "`"
}

// clip cuts s to at most max runes, ending with "…" when it cut.
func clip(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max < 1 {
		return ""
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// clipEscaped is clip for escaped text: it never leaves half an entity
// ("&am…") behind, since every '&' of escaped text starts one.
func clipEscaped(s string, max int) string {
	c := clip(s, max)
	if c == s {
		return s
	}
	kept := strings.TrimSuffix(c, "…")
	if i := strings.LastIndexByte(kept, '&'); i >= 0 && !strings.Contains(kept[i:], ";") {
		kept = kept[:i]
	}
	return kept + "…"
}
