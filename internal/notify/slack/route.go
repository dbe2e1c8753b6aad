package slack

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// Route sends the events its Match selects to a destination of its own,
// with its mentions.
type Route struct {
	// Name names the route's destination: its consumer (<consumer>_<name>),
	// its delivery marks and its log lines. Letters, digits, - and _.
	Name   string
	Match  Match
	Sender Sender
	// Channel, in bot-token mode, is the destination instead of Sender:
	// an id (C…, G…) or #name, reached through Options.Bot.
	Channel  string
	Mentions []string // user ids U…/W…, user groups S…, @here, @channel
	// Continue lets the routes after this one match the event too.
	Continue bool
	// Template is a template file (see package msgtmpl) whose parts
	// replace the default templates for this route's messages; "" for the
	// defaults.
	Template string
}

// Match selects events; an empty field matches every event. The globs are
// path.Match patterns ('*' stops at '/'); the lists match when the event's
// value is one of them.
type Match struct {
	Project    string
	TaskID     string
	TaskName   string
	Kinds      []diff.Kind
	Statuses   []dcs.Status // normalised: the event's current status
	Outcomes   []dcs.Outcome
	Severities []notify.Severity
}

func (m Match) matches(d notify.Data) bool {
	if !glob(m.Project, d.ProjectID) || !glob(m.TaskID, d.TaskID) || !glob(m.TaskName, d.TaskName) {
		return false
	}
	if len(m.Kinds) > 0 && !slices.Contains(m.Kinds, d.Kind) {
		return false
	}
	if len(m.Statuses) > 0 {
		cur, ok := currentStatus(d)
		if !ok || !slices.Contains(m.Statuses, cur.norm) {
			return false
		}
	}
	out, sev := classify(d)
	if len(m.Outcomes) > 0 && !slices.Contains(m.Outcomes, out) {
		return false
	}
	return len(m.Severities) == 0 || slices.Contains(m.Severities, sev)
}

func glob(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

// classify is the event's outcome and severity: the envelope's, or for an
// event published before they existed, what this binary reads from it.
func classify(d notify.Data) (dcs.Outcome, notify.Severity) {
	if d.Outcome != "" && d.Severity != "" {
		return d.Outcome, d.Severity
	}
	var st dcs.Status
	if cur, ok := currentStatus(d); ok {
		st = cur.norm
	}
	return notify.Classify(d.Kind, st)
}

// router says which destinations an event goes to.
type router struct {
	routes []Route
	// fallback names the default destination: a route's name, or "" for
	// the default Sender; hasFallback says whether there is one.
	fallback    string
	hasFallback bool
}

// destinations are the names of the lanes an event goes to: the routes
// that match it, in order, up to the first that does not Continue; the
// default destination when none matches; none when there is no default.
func (r *router) destinations(d notify.Data) []string {
	var out []string
	for _, rt := range r.routes {
		if !rt.Match.matches(d) {
			continue
		}
		out = append(out, rt.Name)
		if !rt.Continue {
			return out
		}
	}
	if len(out) == 0 && r.hasFallback {
		out = append(out, r.fallback)
	}
	return out
}

// mentionPattern is what a mention may be: a user id (U…, W…), a user
// group id (S…), @here or @channel.
var mentionPattern = regexp.MustCompile(`^([UWS][A-Z0-9]{2,40}|@here|@channel)$`)

// ValidMention says whether m is a mention Options accepts.
func ValidMention(m string) bool { return mentionPattern.MatchString(m) }

// mentionText is m in Slack's markup: <@U…>, <!subteam^S…>, <!here>,
// <!channel>.
func mentionText(m string) string {
	switch {
	case m == "@here":
		return "<!here>"
	case m == "@channel":
		return "<!channel>"
	case strings.HasPrefix(m, "S"):
		return "<!subteam^" + m + ">"
	}
	return "<@" + m + ">"
}

// WithMentions is msg with mentions (see Route.Mentions) put in: a section
// right after the header and the start of the fallback text.
func WithMentions(msg slack.WebhookMessage, mentions []string) slack.WebhookMessage {
	if len(mentions) == 0 {
		return msg
	}
	parts := make([]string, len(mentions))
	for i, m := range mentions {
		parts[i] = mentionText(m)
	}
	line := strings.Join(parts, " ")
	msg.Text = clipEscaped(line+" "+msg.Text, maxFallback)
	if msg.Blocks != nil {
		blocks := slices.Clone(msg.Blocks.BlockSet)
		at := min(1, len(blocks))
		sec := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, line, false, false), nil, nil)
		blocks = slices.Insert(blocks, at, slack.Block(sec))
		if len(blocks) > maxBlocks {
			blocks = blocks[:maxBlocks]
		}
		msg.Blocks = &slack.Blocks{BlockSet: blocks}
	}
	return msg
}

// checkRoutes refuses routes that cannot work: no name, a name used twice
// or not fit for a consumer name, no sender, a bad mention, a default
// route that is not one of them.
func (o Options) checkRoutes() []error {
	var errs []error
	seen := map[string]bool{}
	botUsed := o.Channel != ""
	for i, rt := range o.Routes {
		switch {
		case !nameOK(rt.Name):
			errs = append(errs, fmt.Errorf("route %d: name %q: letters, digits, - and _ only", i, rt.Name))
		case seen[rt.Name]:
			errs = append(errs, fmt.Errorf("route %d: name %q used twice", i, rt.Name))
		}
		seen[rt.Name] = true
		switch {
		case rt.Sender == nil && rt.Channel == "":
			errs = append(errs, fmt.Errorf("route %q: no sender and no channel", rt.Name))
		case rt.Sender != nil && rt.Channel != "":
			errs = append(errs, fmt.Errorf("route %q: both a sender and a channel", rt.Name))
		}
		botUsed = botUsed || rt.Channel != ""
		for _, m := range rt.Mentions {
			if !ValidMention(m) {
				errs = append(errs, fmt.Errorf("route %q: mention %q: want U…, W…, S…, @here or @channel", rt.Name, m))
			}
		}
	}
	if botUsed && o.Bot == nil {
		errs = append(errs, errors.New("a channel is given but no bot (bot-token mode)"))
	}
	if botUsed && o.CardsBucket == "" {
		errs = append(errs, errors.New("no cards bucket for the bot-token mode"))
	}
	if o.DefaultRoute != "" && !seen[o.DefaultRoute] {
		errs = append(errs, fmt.Errorf("default route %q is not a route", o.DefaultRoute))
	}
	if o.DegradedFor < 0 {
		errs = append(errs, errors.New("degraded for: negative"))
	}
	return errs
}

func nameOK(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
