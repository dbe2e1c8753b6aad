package delivery

import (
	"github.com/dcs-watcher/watcher/internal/notify"
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
	// an id (C…, G…) or #name, reached through the bot.
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
