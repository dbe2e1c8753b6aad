package slackmsg

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// instance is a source or target for the card: its name and address
// (never a password: the snapshot holds none).
func instance(in dcs.Instance) string {
	var lines []string
	if in.Name != "" {
		lines = append(lines, escClip(in.Name, maxName))
	}
	if addr := address(in); addr != "" {
		lines = append(lines, code(addr, maxAddrs))
	}
	return strings.Join(lines, "\n")
}

// phases in the order a task goes through them, for the card's totals.
var phases = []dcs.Phase{dcs.PhasePending, dcs.PhaseActive, dcs.PhaseStopping, dcs.PhaseTerminal, dcs.PhaseUnknown}

// RenderCard draws a task's live status card from its record: a header
// with the outcome emoji and the task name; the current status and the
// fields (project, task id, source and target names and addresses, never
// passwords); while the task is active and its progress known, a progress
// bar with the percentage, an ETA and the lag (progressBlock); the timeline, one line per status with the time spent in
// it, and the time spent in each phase; the last error; a context line
// with the last event. The current status shows since when, not for how
// long: the card is redrawn only when something changes, so a running
// duration would be stale at once; the phase totals count it up to the
// last update. Texts from the
// API are escaped and every Block Kit limit is kept; the fallback text is
// always set.
func RenderCard(r *Card) slack.WebhookMessage {
	d := notify.Data{Kind: cardKind(r), ProjectID: r.Project, TaskID: r.TaskID, TaskName: r.Name,
		CurrentStatus: &notify.StatusInfo{Raw: r.Status, Normalized: string(r.Norm)}}
	name := r.Name
	if name == "" {
		name = r.TaskID
	}
	status := code(r.Status, maxID)
	if status == "" {
		status = "unknown"
	}
	if r.Kind == diff.Removed {
		status += " (removed: the API no longer knows the task)"
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, clip(emoji(d)+" "+name, maxHeaderText), true, false)),
		slack.NewSectionBlock(md(clipEscaped("*Status* "+status, maxSectionText)), cardFields(r), nil),
	}
	if pb := progressBlock(r); pb != nil {
		blocks = append(blocks, pb)
	}
	blocks = append(blocks, slack.NewSectionBlock(md(timeline(r)), nil, nil))
	if b := attentionBlock(r); b != nil {
		blocks = append(blocks, b)
	}
	if strings.TrimSpace(r.LastError) != "" {
		blocks = append(blocks, codeSection("Last error", r.LastError))
	}
	ctx := "updated " + r.Updated.UTC().Format(time.RFC3339) + " · last event " + code(r.LastEvent, maxID)
	if r.CatchUp != "" {
		ctx += heldBack(r.CatchUp)
	}
	ctx += " · transitions in the thread"
	blocks = append(blocks, slack.NewContextBlock("", md(clipEscaped(ctx, maxFieldText))))

	text := escape(name) + ": " + escape(r.Status)
	if r.Project != "" {
		text += " (project " + escape(r.Project) + ")"
	}
	return slack.WebhookMessage{Text: clipEscaped(text, maxFallback), Blocks: &slack.Blocks{BlockSet: blocks}}
}

func cardFields(r *Card) []*slack.TextBlockObject {
	var out []*slack.TextBlockObject
	add := func(label, value string) {
		if value != "" && len(out) < maxFields {
			out = append(out, md(clipEscaped("*"+label+"*\n"+value, maxFieldText)))
		}
	}
	add("Project", code(r.Project, maxID))
	add("Task ID", code(r.TaskID, maxID))
	add("Source", instance(r.Source))
	add("Target", instance(r.Target))
	add("Region", escClip(r.Region, maxID))
	return out
}

// timeline is the card's timeline section: the statuses, oldest first,
// with the time spent in each (the current one: since when), then the
// total per phase up to the last update. It fits one section.
func timeline(r *Card) string {
	var b strings.Builder
	b.WriteString("*Timeline*")
	if len(r.Folded) > 0 {
		b.WriteString("\n_earlier statuses are in the phase totals_")
	}
	for i, s := range r.Spans {
		at := s.Since.UTC().Format("Jan 2 15:04")
		if i+1 == len(r.Spans) {
			fmt.Fprintf(&b, "\n• %s %s since %s (current)", code(s.Status, maxChange), phaseOf(s.Norm), at)
			continue
		}
		fmt.Fprintf(&b, "\n• %s %s %s for %s", at, code(s.Status, maxChange), phaseOf(s.Norm), Humanize(r.Spans[i+1].Since.Sub(s.Since)))
	}
	totals := r.phaseTotals(r.Updated)
	var parts []string
	for _, p := range phases {
		if d, ok := totals[p]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", p, Humanize(d)))
		}
	}
	if len(parts) > 0 {
		b.WriteString("\n*Per phase* " + strings.Join(parts, " · "))
	}
	return clipEscaped(b.String(), maxSectionText)
}

// RenderReply is a transition as a reply in its card's thread: one line
// with the emoji, what happened and the time spent in the previous
// status; the failure reason or the changed fields where there are any; a
// context line with the event. Short, because the card carries the rest.
func RenderReply(env notify.Envelope) slack.WebhookMessage {
	d := env.Data
	line := emoji(d) + " " + what(d, escape)
	if d.PreviousStatusSeconds != nil {
		line += " after " + Humanize(time.Duration(*d.PreviousStatusSeconds*float64(time.Second)))
	}
	if d.MayHaveSkipped {
		line += " (" + escClip(d.Gap, maxID) + ": statuses in between may be missing)"
	}
	if d.Delayed && d.ObservedAt != nil {
		line += " (seen at " + d.ObservedAt.UTC().Format("15:04:05") + " UTC, delayed)"
	}
	if d.CatchUp != "" {
		line += heldBack(d.CatchUp)
	}
	blocks := []slack.Block{slack.NewSectionBlock(md(clipEscaped(line, maxSectionText)), nil, nil)}
	if r := reasonBlock(d); r != nil {
		blocks = append(blocks, r)
	}
	if c := changesBlock(d); c != nil {
		blocks = append(blocks, c)
	}
	if l := logTailBlock(d); l != nil {
		blocks = append(blocks, l)
	}
	blocks = append(blocks, contextBlock(env))
	return slack.WebhookMessage{
		Text:   clipEscaped(escape(d.Name())+": "+what(d, escape), maxFallback),
		Blocks: &slack.Blocks{BlockSet: blocks},
	}
}

// Lengths of the reply's changed fields.
const (
	maxChange  = 80 // one field name or value in the list of changes
	maxChanges = 20 // changes listed before "...and N more"
)

// reasonBlock is the failure reason (or why the watcher is blind), in a
// code block, for a reply; nil when there is none.
func reasonBlock(d notify.Data) slack.Block {
	label, reason := reasonOf(d)
	if reason == "" {
		return nil
	}
	return codeSection(label, reason)
}

// changesBlock lists a reply's changed fields; nil for events that list
// none, and for a late reason, whose reason block says it.
func changesBlock(d notify.Data) slack.Block {
	if (d.Kind != diff.TaskStatusChanged && d.Kind != diff.Changed) || len(d.Changes) == 0 || lateReason(d) {
		return nil
	}
	var b strings.Builder
	b.WriteString("*Changed fields*")
	for i, c := range d.Changes {
		if i == maxChanges {
			fmt.Fprintf(&b, "\n…and %d more", len(d.Changes)-maxChanges)
			break
		}
		fmt.Fprintf(&b, "\n• %s: %s -> %s", code(c.Field, maxChange), code(event.OrNone(c.Old), maxChange), code(event.OrNone(c.New), maxChange))
	}
	return slack.NewSectionBlock(md(clipEscaped(b.String(), maxSectionText)), nil, nil)
}

// contextBlock names the reply's event and when it was observed.
func contextBlock(env notify.Envelope) slack.Block {
	parts := []string{"event " + code(env.ID, maxID)}
	if !env.Time.IsZero() {
		parts = append(parts, "observed "+env.Time.UTC().Format(time.RFC3339))
	}
	return slack.NewContextBlock("", md(clipEscaped(strings.Join(parts, " · "), maxFieldText)))
}

// heldBack says, after an event, that the silence id held it back until it
// ended (a catch-up).
func heldBack(id string) string {
	return " (held back by silence " + escClip(id, maxID) + ", which has ended)"
}
