package msgtmpl

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/template"
	"time"
)

// Parts of a single-event message, then of a grouped one. Each is a
// named template; the notifier turns its output into a block (see the
// default templates' comment for which).
var (
	SingleParts = []string{"header", "fields", "attention", "reason", "log_tail", "changes", "extra", "context", "text"}
	GroupParts  = []string{"group_header", "group_reason", "group_line", "group_context", "group_text"}
)

// PlainPart says whether a part renders into a plain_text object (a
// header), whose data is unescaped; every other part renders mrkdwn.
func PlainPart(part string) bool { return part == "header" || part == "group_header" }

//go:embed templates/default.tmpl
var defaultSource string

// defaultSet is parsed once; a broken default is a bug of this binary.
var defaultSet = func() *Set {
	s, err := parse("default", "")
	if err != nil {
		panic("msgtmpl: default templates: " + err.Error())
	}
	return s
}()

// DefaultSource is the text of the default templates, for docs and for
// whoever starts a template file of their own.
func DefaultSource() string { return defaultSource }

// Set is a parsed set of message templates: the defaults, with the parts
// a file overrides. It is safe for concurrent use.
type Set struct {
	name string
	// mrkdwn and plain are the same templates with the context's
	// functions (clip never cuts an entity in mrkdwn).
	mrkdwn, plain *template.Template
}

// Default is the built-in templates.
func Default() *Set { return defaultSet }

// Name is the file the set was loaded from, "default" for the built-in one.
func (s *Set) Name() string { return s.name }

// Load reads a template file and parses it over the defaults (see Parse).
func Load(path string) (*Set, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return Parse(path, string(src))
}

// Parse parses src over the default templates: every part src defines
// replaces the default one. name stands for the file in errors, which
// read "parse <name>:<line>: ..." or "render <name>:<line>:...". A
// template may define only parts (SingleParts, GroupParts) and helpers
// whose names start with "_"; text outside a define is ignored. Parse
// also renders every part for two sample events, so that a template that
// names a field the data does not have, or calls a function wrongly, is
// refused here and not when the first event comes.
func Parse(name, src string) (*Set, error) {
	s, err := parse(name, src)
	if err != nil {
		return nil, err
	}
	if err := s.try(); err != nil {
		return nil, err
	}
	return s, nil
}

func parse(name, src string) (*Set, error) {
	s := &Set{name: name}
	for _, ctx := range []struct {
		t    **template.Template
		clip func(string, int) string
	}{{&s.mrkdwn, ClipEscaped}, {&s.plain, Clip}} {
		t, err := template.New("default").Funcs(funcs(ctx.clip)).Parse(defaultSource)
		if err != nil {
			return nil, fmt.Errorf("parse default templates: %w", err)
		}
		if src != "" {
			own, err := t.New(name).Parse(src)
			if err != nil {
				return nil, fmt.Errorf("parse %s", strings.TrimPrefix(err.Error(), "template: "))
			}
			if err := checkNames(name, own); err != nil {
				return nil, err
			}
		}
		*ctx.t = t
	}
	return s, nil
}

// checkNames refuses a define that is neither a part nor a helper: most
// likely a misspelt part, which would otherwise be silently unused.
func checkNames(name string, t *template.Template) error {
	for _, d := range t.Templates() {
		n := d.Name()
		if n == name || n == "default" || strings.HasPrefix(n, "_") || slices.Contains(SingleParts, n) || slices.Contains(GroupParts, n) {
			continue
		}
		return fmt.Errorf("parse %s: defines %q, which is not a part (want one of %s, %s, or a helper named _...)",
			name, n, strings.Join(SingleParts, ", "), strings.Join(GroupParts, ", "))
	}
	return nil
}

// Exec renders one part with data: MessageData for the single-event parts
// and group_line, GroupData for the other group parts. data must be
// escaped for the part's context (see PlainPart).
func (s *Set) Exec(part string, data any) (string, error) {
	t := s.mrkdwn
	if PlainPart(part) {
		t = s.plain
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, part, data); err != nil {
		return "", fmt.Errorf("render %s", strings.TrimPrefix(err.Error(), "template: "))
	}
	return b.String(), nil
}

// try renders every part for the samples.
func (s *Set) try() error {
	for _, m := range samples() {
		for _, p := range SingleParts {
			if _, err := s.Exec(p, m); err != nil {
				return err
			}
		}
		g := GroupData{Kind: m.Kind, Emoji: m.Emoji, Headline: "2 migration tasks -> FAILED", Count: 2, Part: 1, Parts: 2,
			First: 1, Last: 1, PartSuffix: " (part 1 of 2)", PartOf: "tasks 1-1 of 2", ReasonLabel: m.ReasonLabel,
			Reason: m.Reason, Project: m.ProjectID, Observed: "observed " + m.Observed, Tasks: []MessageData{m}}
		for _, p := range GroupParts {
			data := any(g)
			if p == "group_line" {
				data = m
			}
			if _, err := s.Exec(p, data); err != nil {
				return err
			}
		}
	}
	return nil
}

// samples are a task's failure, with every field set, and an event about
// the API as a whole, with every optional one missing.
func samples() []MessageData {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	full := MessageData{
		Kind: "status_changed", Outcome: "failed", Severity: "critical", Emoji: ":x:",
		Name: "orders-cache-move", TaskID: "a1b2c3d4", ProjectID: "254d3b7f", Region: "cn-north-4",
		What: "MIGRATING -> FAILED", LineWhat: "MIGRATING -> FAILED",
		From:              &Status{Raw: "MIGRATING", Normalized: "MIGRATING", Phase: "active", Known: true},
		To:                &Status{Raw: "FAILED", Normalized: "FAILED", Phase: "terminal", Known: true},
		PreviousStatusFor: "3m12s", PreviousStatusSeconds: 192,
		Source: &Instance{Name: "redis-src", Addr: "192.0.2.1:6379"}, Target: &Instance{Name: "redis-dst", Addr: "192.0.2.2:6379"},
		ReasonLabel: "Failure reason", Reason: "source unreachable",
		Condition: "progress_stalled", ConditionLabel: "stalled full sync", Since: at.Format(time.RFC3339), For: "20m",
		Figures: "63% since 2026-03-01T11:40:00Z; stall_after 15m",
		LogTail: "11:59:55 connect to target failed: password=&lt;secret&gt; rejected", LogTailError: "unavailable",
		Changes: []Change{{Field: "task_status", Old: "(none)", New: "EXCHANGING"}},
		EventID: "ev-1", ObservedAt: at, Observed: at.Format(time.RFC3339), Mentions: []string{"<!here>"},
	}
	sparse := MessageData{Kind: "watch_degraded", Outcome: "unknown", Severity: "warning", Emoji: ":warning:",
		Name: "DCS API", What: "watcher cannot see the DCS API", ReasonLabel: "Why the watcher is blind"}
	return []MessageData{full, sparse}
}
