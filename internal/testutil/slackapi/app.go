package slackapi

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// appSide is what the fake holds for an app with interactivity: the
// app-level token and the websocket URL apps.connections.open hands out,
// the user groups, and the ephemeral messages posted.
type appSide struct {
	token      string
	socketURL  func() string
	groups     map[string][]string // S… -> user ids
	ephemerals []Ephemeral
}

// Ephemeral is a chat.postEphemeral the fake took: a message only User
// sees, in Channel (in the thread of ThreadTS when set).
type Ephemeral struct {
	Channel  string
	User     string
	ThreadTS string
	Text     string
}

// SocketMode makes apps.connections.open accept appToken (an xapp- token,
// sent as "Authorization: Bearer", as Slack wants it) and answer url():
// the websocket a Socket Mode client dials next (see package slacksocket).
func (s *Server) SocketMode(appToken string, url func() string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.app.token, s.app.socketURL = appToken, url
}

// SetUserGroup sets the members of the user group id (S…), which
// usergroups.users.list answers.
func (s *Server) SetUserGroup(id string, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.app.groups == nil {
		s.app.groups = map[string][]string{}
	}
	s.app.groups[id] = slices.Clone(users)
}

// Ephemerals are the ephemeral messages posted so far, oldest first.
func (s *Server) Ephemerals() []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.app.ephemerals)
}

// appCall answers the methods of an app's interactivity; ok is false for
// any other method. apps.connections.open checks the app-level token of
// the Authorization header; the others the bot token of the form, like
// every other method.
func (s *Server) appCall(method string, r *http.Request, form map[string]string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch method {
	case "apps.connections.open":
		if s.app.token == "" || r.Header.Get("Authorization") != "Bearer "+s.app.token {
			return fail("invalid_auth"), true
		}
		return map[string]any{"ok": true, "url": s.app.socketURL()}, true
	case "chat.postEphemeral", "usergroups.users.list":
	default:
		return nil, false
	}
	if form["token"] != s.token {
		return fail("invalid_auth"), true
	}
	if method == "usergroups.users.list" {
		users, ok := s.app.groups[form["usergroup"]]
		if !ok {
			return fail("no_such_subteam"), true
		}
		return map[string]any{"ok": true, "users": slices.Clone(users)}, true
	}
	ch, ok := s.ids[form["channel"]]
	switch {
	case !ok:
		return fail("channel_not_found"), true
	case form["user"] == "":
		return fail("user_not_in_channel"), true
	case form["text"] == "" && form["blocks"] == "":
		return fail("no_text"), true
	}
	s.app.ephemerals = append(s.app.ephemerals, Ephemeral{Channel: ch, User: form["user"], ThreadTS: form["thread_ts"], Text: form["text"]})
	now := time.Now()
	return map[string]any{"ok": true, "message_ts": fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)}, true
}
