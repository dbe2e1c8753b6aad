package delivery

import (
	"errors"
	"fmt"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
)

// Route sends the events its Match selects to a destination of its own,
// with its mentions.
type Route struct {
	// Name names the route's destination: its consumer (<consumer>_<name>),
	// its delivery marks and its log lines. Letters, digits, - and _.
	Name   string
	Match  notify.Match
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
		if !rt.Match.Matches(d) {
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
			if !slackmsg.ValidMention(m) {
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
