package slackmsg

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/msgtmpl"
)

// Renderer writes a destination's messages from its templates (see
// package msgtmpl) and its mentions. The templates write the texts; the
// Renderer builds the blocks around them and cuts every text to Slack's
// limits, so no template can make Slack refuse a message. A template that
// fails for an event does not lose the message: the default templates
// render it instead, and the first such failure is logged.
type Renderer struct {
	set      *msgtmpl.Set
	mentions []string
	log      zerolog.Logger
	warned   atomic.Bool
}

// Render turns an envelope into a Block Kit message with the default
// templates: a header with a status emoji, the task name and what
// happened; fields with project, task id, kind, status, source and target
// (names and addresses: the snapshot holds no password), the time spent in
// the previous status; the failure reason and the changed fields where
// there are any; and a plain-text fallback for notifications. Texts that
// come from the API are escaped and every Block Kit limit is respected.
// A route's own templates render through its Renderer.
func Render(env notify.Envelope) slack.WebhookMessage { return defaultRenderer.Render(env) }

// RenderGroup renders a group of like events (same kind, and the same new
// status where the kind's news is a status: see GroupKey) as few messages:
// a header such as ":x: 25 migration tasks -> FAILED", one line per task
// (name, task id, FROM -> TO, the reason shortened to one line), and a
// context line with the project and when the changes were seen. A reason
// every event shares is shown once instead of on every line. A group that
// does not fit one message (MaxGroupEvents lines, maxGroupText characters)
// is split in order; each part says which share it lists ("part 2 of 3",
// "tasks 51-100 of 120"). Every event is listed in exactly one part, and
// the parts' Events add up to len(envs). Like Render, it holds no password
// (the snapshot has none) and escapes every text from the API.
func RenderGroup(envs []notify.Envelope) []GroupPart { return defaultRenderer.RenderGroup(envs) }

// defaultRenderer is the default templates with no mentions.
var defaultRenderer = &Renderer{set: msgtmpl.Default()}

// NewRenderer renders with set (nil: the default templates) and puts
// mentions (see Route.Mentions) in every message; log hears a template
// that fails.
func NewRenderer(set *msgtmpl.Set, mentions []string, log zerolog.Logger) *Renderer {
	if set == nil {
		set = msgtmpl.Default()
	}
	return &Renderer{set: set, mentions: mentions, log: log}
}

// Render is one event's message (see the package function Render).
func (r *Renderer) Render(env notify.Envelope) slack.WebhookMessage {
	msg, err := r.renderSingle(r.set, env)
	if err != nil {
		r.fellBack(err)
		if msg, err = r.renderSingle(msgtmpl.Default(), env); err != nil {
			msg = lastResort(env)
		}
	}
	return WithMentions(msg, r.mentions)
}

// RenderGroup is a group's messages (see the package function
// RenderGroup).
func (r *Renderer) RenderGroup(envs []notify.Envelope) []GroupPart {
	if len(envs) == 0 {
		return nil
	}
	parts, err := r.renderGroup(r.set, envs)
	if err != nil {
		r.fellBack(err)
		if parts, err = r.renderGroup(msgtmpl.Default(), envs); err != nil {
			parts = make([]GroupPart, len(envs))
			for i, env := range envs {
				parts[i] = GroupPart{Msg: lastResort(env), Events: 1}
			}
		}
	}
	for i := range parts {
		parts[i].Msg = WithMentions(parts[i].Msg, r.mentions)
	}
	return parts
}

// fellBack logs, once per Renderer, that its templates failed and the
// defaults were used: every message is still posted, and one line tells
// the operator the template needs fixing without flooding the log.
func (r *Renderer) fellBack(err error) {
	if r.warned.CompareAndSwap(false, true) {
		r.log.Warn().Err(err).Str("template", r.set.Name()).
			Msg("slack: message template failed; the default template rendered the message (logged once)")
	}
}

// errEmpty is a required part (header, fallback text) that rendered empty.
var errEmpty = errors.New("rendered empty")

// renderSingle renders env with set into blocks: header, fields, reason,
// changes, extra, context; each cut to its Block Kit limit.
func (r *Renderer) renderSingle(set *msgtmpl.Set, env notify.Envelope) (slack.WebhookMessage, error) {
	md := messageData(env, msgtmpl.Escape, r.mentions)
	pd := messageData(env, msgtmpl.Plain, r.mentions)
	out := map[string]string{}
	for _, p := range msgtmpl.SingleParts {
		data := md
		if msgtmpl.PlainPart(p) {
			data = pd
		}
		s, err := set.Exec(p, data)
		if err != nil {
			return slack.WebhookMessage{}, err
		}
		out[p] = s
	}
	b := blocks{}
	if err := b.header(out["header"], set, "header"); err != nil {
		return slack.WebhookMessage{}, err
	}
	b.fields(out["fields"])
	b.section(out["attention"])
	b.section(out["reason"])
	b.section(out["log_tail"])
	b.section(out["changes"])
	b.section(out["extra"])
	b.context(out["context"])
	return b.message(out["text"], maxFallback, set, "text")
}

// renderGroup renders a group with set: the lines first, so that the
// group can be split into messages that hold them (see RenderGroup).
func (r *Renderer) renderGroup(set *msgtmpl.Set, envs []notify.Envelope) ([]GroupPart, error) {
	label, reason := sharedReason(envs)
	md := make([]msgtmpl.MessageData, len(envs))
	pd := make([]msgtmpl.MessageData, len(envs))
	lines := make([]string, len(envs))
	for i, env := range envs {
		md[i] = messageData(env, msgtmpl.Escape, r.mentions)
		pd[i] = messageData(env, msgtmpl.Plain, r.mentions)
		if reason != "" {
			// Shown once for the group.
			md[i].Reason, pd[i].Reason = "", ""
		}
		line, err := set.Exec("group_line", md[i])
		if err != nil {
			return nil, err
		}
		// Cut here so that splitLines and packSections can count on it.
		lines[i] = clipEscaped(line, maxGroupLine)
	}
	spans := splitLines(lines)
	parts := make([]GroupPart, len(spans))
	for i, sp := range spans {
		g := groupData(envs, sp, i+1, len(spans), label, reason, r.mentions)
		gm, gp := g(msgtmpl.Escape, md), g(msgtmpl.Plain, pd)
		out := map[string]string{}
		for _, p := range msgtmpl.GroupParts {
			if p == "group_line" {
				continue
			}
			data := gm
			if msgtmpl.PlainPart(p) {
				data = gp
			}
			s, err := set.Exec(p, data)
			if err != nil {
				return nil, err
			}
			out[p] = s
		}
		b := blocks{}
		if err := b.header(out["group_header"], set, "group_header"); err != nil {
			return nil, err
		}
		b.section(out["group_reason"])
		for _, text := range packSections(lines[sp.from:sp.to]) {
			b.section(text)
		}
		b.context(out["group_context"])
		msg, err := b.message(out["group_text"], maxGroupFallback, set, "group_text")
		if err != nil {
			return nil, err
		}
		parts[i] = GroupPart{Msg: msg, Events: sp.to - sp.from}
	}
	return parts, nil
}

// blocks assembles a message from rendered texts, each cut to Slack's
// limit for its place; a text that is only blanks makes no block.
type blocks []slack.Block

func (b *blocks) header(text string, set *msgtmpl.Set, part string) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return fmt.Errorf("%s: %s %w", set.Name(), part, errEmpty)
	}
	*b = append(*b, slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, clip(text, maxHeaderText), true, false)))
	return nil
}

func (b *blocks) fields(text string) {
	var fs []*slack.TextBlockObject
	for _, f := range msgtmpl.SplitFields(text) {
		if len(fs) == maxFields {
			break
		}
		fs = append(fs, slack.NewTextBlockObject(slack.MarkdownType, clipEscaped(f, maxFieldText), false, false))
	}
	if len(fs) > 0 {
		*b = append(*b, slack.NewSectionBlock(nil, fs, nil))
	}
}

func (b *blocks) section(text string) {
	if strings.TrimSpace(text) != "" {
		*b = append(*b, mrkdwnSection(clipEscaped(text, maxSectionText)))
	}
}

func (b *blocks) context(text string) {
	if strings.TrimSpace(text) != "" {
		*b = append(*b, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, clipEscaped(text, maxFieldText), false, false)))
	}
}

// message is the blocks, at most maxBlocks, with the fallback text, which
// Slack's notifications show and which must never be missing.
func (b blocks) message(text string, max int, set *msgtmpl.Set, part string) (slack.WebhookMessage, error) {
	if strings.TrimSpace(text) == "" {
		return slack.WebhookMessage{}, fmt.Errorf("%s: %s %w", set.Name(), part, errEmpty)
	}
	if len(b) > maxBlocks {
		b = b[:maxBlocks]
	}
	return slack.WebhookMessage{Text: clipEscaped(text, max), Blocks: &slack.Blocks{BlockSet: b}}, nil
}

// lastResort is the message when even the default templates fail (a bug
// of this binary): the summary, so that the event is still seen.
func lastResort(env notify.Envelope) slack.WebhookMessage {
	d := env.Data
	h := clip(emoji(d)+" "+d.Name()+": "+d.What(nil), maxHeaderText)
	return slack.WebhookMessage{
		Text:   clipEscaped(escape(d.Name())+": "+d.What(escape), maxFallback),
		Blocks: &slack.Blocks{BlockSet: []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, h, true, false))}},
	}
}

// messageData is the data model of env, every string passed through esc
// (msgtmpl.Escape for mrkdwn, msgtmpl.Plain for plain_text).
func messageData(env notify.Envelope, esc func(string) string, mentions []string) msgtmpl.MessageData {
	d := env.Data
	out, sev := d.Classified()
	m := msgtmpl.MessageData{
		Kind: esc(string(d.Kind)), Scope: esc(d.Scope), Outcome: esc(string(out)), Severity: esc(string(sev)),
		Emoji: emoji(d), Name: esc(d.Name()), TaskID: esc(d.TaskID), ProjectID: esc(d.ProjectID), Region: esc(d.Region),
		What: what(d, esc), LineWhat: lineWhat(d, esc),
		MayHaveSkipped: d.MayHaveSkipped, Gap: esc(d.Gap), Delayed: d.Delayed, CatchUp: esc(d.CatchUp), EventID: esc(env.ID), Mentions: mentionMarkup(mentions),
	}
	if p, ok := statusOf(d.PreviousStatus); ok {
		m.From = statusData(p, esc)
	}
	if c, ok := currentStatus(d); ok {
		m.To = statusData(c, esc)
	}
	if s := d.PreviousStatusSeconds; s != nil {
		m.PreviousStatusSeconds = *s
		m.PreviousStatusFor = Humanize(time.Duration(*s * float64(time.Second)))
	}
	if t := d.Snapshot; t != nil {
		m.Source, m.Target = instanceData(t.Source, esc), instanceData(t.Target, esc)
	}
	label, reason := reasonOf(d)
	m.ReasonLabel, m.Reason = esc(label), esc(reason)
	if (d.Kind == diff.Changed || d.Kind == diff.TaskStatusChanged) && !lateReason(d) {
		for _, c := range d.Changes {
			m.Changes = append(m.Changes, msgtmpl.Change{Field: esc(c.Field), Old: esc(event.OrNone(c.Old)), New: esc(event.OrNone(c.New))})
		}
	}
	attentionData(&m, env, esc)
	if !env.Time.IsZero() {
		m.ObservedAt = env.Time.UTC()
		m.Observed = m.ObservedAt.Format(time.RFC3339)
	}
	return m
}

func statusData(s status, esc func(string) string) *msgtmpl.Status {
	return &msgtmpl.Status{Raw: esc(s.raw), Normalized: esc(string(s.norm)), Phase: esc(string(s.norm.Phase())), Known: s.known}
}

func instanceData(in dcs.Instance, esc func(string) string) *msgtmpl.Instance {
	return &msgtmpl.Instance{Name: esc(in.Name), Addr: esc(address(in))}
}

func mentionMarkup(mentions []string) []string {
	out := make([]string, len(mentions))
	for i, m := range mentions {
		out[i] = mentionText(m)
	}
	return out
}

// groupData is, for one message of a group, its data model in a
// context: esc and the tasks' data already escaped alike.
func groupData(envs []notify.Envelope, sp span, part, parts int, label, reason string, mentions []string) func(func(string) string, []msgtmpl.MessageData) msgtmpl.GroupData {
	first := envs[0].Data
	return func(esc func(string) string, tasks []msgtmpl.MessageData) msgtmpl.GroupData {
		g := msgtmpl.GroupData{
			Kind: esc(string(first.Kind)), Emoji: emoji(first), Headline: headline(first, len(envs), esc),
			Count: len(envs), Part: part, Parts: parts, First: sp.from + 1, Last: sp.to,
			ReasonLabel: esc(label), Reason: esc(reason), Project: esc(sharedProject(envs)),
			Observed: observedRange(envs[sp.from:sp.to]), Tasks: tasks[sp.from:sp.to], Mentions: mentionMarkup(mentions),
		}
		if parts > 1 {
			g.PartSuffix = fmt.Sprintf(" (part %d of %d)", part, parts)
			g.PartOf = fmt.Sprintf("tasks %d-%d of %d", sp.from+1, sp.to, len(envs))
		}
		return g
	}
}
