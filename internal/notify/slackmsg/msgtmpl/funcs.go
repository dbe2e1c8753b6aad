package msgtmpl

import (
	"fmt"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// fieldBreak separates the fields of the "fields" template's output. It
// is a control character no display text holds: the data's strings are
// stripped of it, so only the field and nextfield functions write it.
const fieldBreak = "\x1e"

// escaper turns the three characters Slack's mrkdwn treats as control
// characters into entities, so that API text cannot form links or
// mentions; it also drops fieldBreak.
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", fieldBreak, "")

// Escape makes s safe in mrkdwn: &, < and > as entities.
func Escape(s string) string { return escaper.Replace(s) }

// Plain is the plain_text context's counterpart of Escape: s as it is,
// less fieldBreak.
func Plain(s string) string { return strings.ReplaceAll(s, fieldBreak, "") }

// Clip cuts s to at most max runes, ending with "…" when it cut.
func Clip(s string, max int) string {
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

// ClipEscaped is Clip for escaped text: it never leaves half an entity
// ("&am…") behind, since every '&' of escaped text starts one.
func ClipEscaped(s string, max int) string {
	c := Clip(s, max)
	if c == s {
		return s
	}
	kept := strings.TrimSuffix(c, "…")
	if i := strings.LastIndexByte(kept, '&'); i >= 0 && !strings.Contains(kept[i:], ";") {
		kept = kept[:i]
	}
	return kept + "…"
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

// Header fits "<emoji> <name>: <what>" into Slack's header limit (150),
// shortening the name first so that what happened stays readable.
func Header(emoji, name, what string) string {
	const maxHeader = 150
	prefix, suffix := emoji+" ", ": "+what
	room := maxHeader - utf8.RuneCountInString(prefix) - utf8.RuneCountInString(suffix)
	if room < 20 {
		room = 20
	}
	return Clip(prefix+Clip(name, room)+suffix, maxHeader)
}

// Code is s in an inline code span; "" stays "". A backtick inside would
// end the span early, so it is shown as a quote.
func Code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

// CodeBlock is s in a code block; a ``` inside would end it, so it is
// shown as ”'.
func CodeBlock(s string) string { return "```" + strings.ReplaceAll(s, "```", "'''") + "```" }

// OneLine folds newlines and runs of blanks into single spaces.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// funcs are the template functions; clip is the context's (ClipEscaped in
// mrkdwn, so that it never cuts an entity in half).
func funcs(clip func(string, int) string) template.FuncMap {
	return template.FuncMap{
		"clip":      func(n int, s string) string { return clip(s, n) },
		"code":      Code,
		"codeblock": CodeBlock,
		"oneline":   OneLine,
		"header":    Header,
		"humanize":  humanize,
		"join":      join,
		"field":     field,
		"nextfield": func() string { return fieldBreak },
		"add":       func(a, b int) int { return a + b },
		"sub":       func(a, b int) int { return a - b },
	}
}

// humanize takes seconds (a number) or a time.Duration.
func humanize(v any) (string, error) {
	switch x := v.(type) {
	case time.Duration:
		return Humanize(x), nil
	case float64:
		return Humanize(time.Duration(x * float64(time.Second))), nil
	case int:
		return Humanize(time.Duration(x) * time.Second), nil
	}
	return "", fmt.Errorf("humanize: want seconds or a duration, got %T", v)
}

// join joins the non-empty parts with sep.
func join(sep string, parts ...string) string {
	kept := parts[:0:0]
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// field is one field of the "fields" template: "*label*\nvalue", or
// nothing when value is "".
func field(label, value string) string {
	if value == "" {
		return ""
	}
	return fieldBreak + "*" + label + "*\n" + value + fieldBreak
}

// SplitFields cuts the "fields" template's output into fields: at every
// field break, each trimmed of surrounding blanks, empty ones dropped.
func SplitFields(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, fieldBreak) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
