// Package slackapi is a fake of the part of Slack's Web API the watcher's
// bot-token mode uses: chat.postMessage, chat.update,
// conversations.history and conversations.replies, on an httptest server;
// and, for the buttons, apps.connections.open (the app-level token as a
// bearer; package slacksocket serves the websocket it hands out),
// chat.postEphemeral and usergroups.users.list (app.go).
// It reads the form bodies slack-go sends (blocks and metadata as JSON
// strings), checks the token, keeps channels of messages with ts,
// thread_ts and metadata, and answers JSON as Slack does (ok, ts, channel,
// error, messages with metadata when include_all_metadata is set), and
// pages the two reads as Slack does (limit, cursor, oldest, latest,
// inclusive; has_more and response_metadata.next_cursor). A ts is the
// time the fake took the message, as Slack's is. A test
// can make any call fail (an error code, a 429 with Retry-After, a 5xx) or
// answer late, after storing the message, like a Slack that took a post
// whose answer the client never saw.
//
// It is meant for tests only.
package slackapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// Message is a message the fake holds.
type Message struct {
	Channel  string          `json:"-"`
	TS       string          `json:"ts"`
	ThreadTS string          `json:"thread_ts,omitempty"`
	Text     string          `json:"text"`
	Blocks   json.RawMessage `json:"blocks,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Updates counts the chat.update calls that redrew it.
	Updates int `json:"-"`
}

// Fault is how the fake answers one call instead of (or after) doing it.
type Fault struct {
	Status     int    // HTTP status; 0: 200
	RetryAfter string // with Status 429
	Error      string // ok:false with this code (HTTP 200)
	// Lost does the call, then answers only once the client has given up
	// (its request ended: a timeout), so it does not know the post was
	// taken. A client that never gives up gets its answer after
	// lostAnswerCap, and the test sees a post that was not lost.
	Lost bool
}

// lostAnswerCap bounds how long a Lost answer waits for the client to give
// up, so that a test never hangs on it.
const lostAnswerCap = 30 * time.Second

// Call is one request the fake received.
type Call struct {
	Method string
	Form   map[string]string
}

// Server is the fake Web API.
type Server struct {
	srv   *httptest.Server
	token string
	// Fault, if set, is asked before each call; n counts the calls of
	// that method from 0. A zero Fault answers normally.
	Fault func(method string, n int, form map[string]string) Fault

	mu      sync.Mutex
	ids     map[string]string // #name -> id
	msgs    []*Message
	calls   []Call
	perCall map[string]int
	lastTS  int64
	app     appSide // apps.connections.open, ephemerals, user groups
}

// New starts a fake that accepts token and knows channels (name -> id,
// e.g. "#oncall" -> "C0ONCALL"); every id is also reachable as itself.
// It stops when the test ends.
func New(t interface {
	Cleanup(func())
	Helper()
}, token string, channels map[string]string) *Server {
	t.Helper()
	s := &Server{token: token, ids: map[string]string{}, perCall: map[string]int{}}
	for name, id := range channels {
		s.ids[name] = id
		s.ids[id] = id
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the API base to give slack-go (slack.OptionAPIURL) or the
// watcher (slack.api_url).
func (s *Server) URL() string { return s.srv.URL + "/api/" }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	form := map[string]string{}
	for k, v := range r.PostForm {
		form[k] = v[0]
	}
	s.mu.Lock()
	n := s.perCall[method]
	s.perCall[method]++
	safe := maps(form)
	delete(safe, "token")
	s.calls = append(s.calls, Call{Method: method, Form: safe})
	s.mu.Unlock()

	var f Fault
	if s.Fault != nil {
		f = s.Fault(method, n, safe)
	}
	switch {
	case f.Status == http.StatusTooManyRequests:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		w.WriteHeader(http.StatusTooManyRequests)
		return
	case f.Status != 0 && f.Status != http.StatusOK:
		http.Error(w, "<html>trouble</html>", f.Status)
		return
	case f.Error != "":
		writeJSON(w, map[string]any{"ok": false, "error": f.Error})
		return
	}
	if answer, ok := s.appCall(method, r, form); ok {
		writeJSON(w, answer)
		return
	}
	if form["token"] != s.token {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	answer := s.do(method, form)
	if f.Lost {
		select {
		case <-r.Context().Done():
		case <-time.After(lostAnswerCap):
		}
	}
	writeJSON(w, answer)
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(code string) map[string]any { return map[string]any{"ok": false, "error": code} }

func (s *Server) do(method string, form map[string]string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.ids[form["channel"]]
	if !ok {
		return fail("channel_not_found")
	}
	switch method {
	case "chat.postMessage":
		return s.post(ch, form)
	case "chat.update":
		m := s.find(ch, form["ts"])
		if m == nil {
			return fail("message_not_found")
		}
		m.Text, m.Updates = form["text"], m.Updates+1
		if b := form["blocks"]; b != "" {
			m.Blocks = json.RawMessage(b)
		}
		if md := form["metadata"]; md != "" {
			m.Metadata = json.RawMessage(md)
		}
		return map[string]any{"ok": true, "channel": ch, "ts": m.TS, "text": m.Text}
	case "conversations.history":
		if form["channel"] != ch {
			return fail("channel_not_found") // history wants the id
		}
		var out []*Message
		for _, m := range slices.Backward(s.msgs) {
			if m.Channel == ch && (m.ThreadTS == "" || m.ThreadTS == m.TS) {
				out = append(out, m)
			}
		}
		return page(out, nil, form, historyLimits, func(m *Message, at string) bool { return tsValue(m.TS) <= tsValue(at) })
	case "conversations.replies":
		var parent *Message
		var replies []*Message
		for _, m := range s.msgs {
			switch {
			case m.Channel != ch:
			case m.TS == form["ts"]:
				parent = m
			case m.ThreadTS == form["ts"]:
				replies = append(replies, m)
			}
		}
		if parent == nil {
			return fail("thread_not_found")
		}
		return page(replies, parent, form, repliesLimits, func(m *Message, at string) bool { return tsValue(m.TS) >= tsValue(at) })
	}
	return fail("unknown_method")
}

func (s *Server) post(ch string, form map[string]string) map[string]any {
	if strings.TrimSpace(form["text"]) == "" && form["blocks"] == "" {
		return fail("no_text")
	}
	if form["blocks"] != "" {
		var blocks []json.RawMessage
		if json.Unmarshal([]byte(form["blocks"]), &blocks) != nil || len(blocks) > 50 {
			return fail("invalid_blocks")
		}
	}
	if thread := form["thread_ts"]; thread != "" && s.find(ch, thread) == nil {
		return fail("thread_not_found")
	}
	// A ts is the time Slack took the message, in microseconds, unique in
	// the channel.
	s.lastTS = max(time.Now().UnixMicro(), s.lastTS+1)
	ts := fmt.Sprintf("%d.%06d", s.lastTS/1_000_000, s.lastTS%1_000_000)
	m := &Message{Channel: ch, TS: ts, ThreadTS: form["thread_ts"], Text: form["text"]}
	if b := form["blocks"]; b != "" {
		m.Blocks = json.RawMessage(b)
	}
	if md := form["metadata"]; md != "" {
		m.Metadata = json.RawMessage(md)
	}
	s.msgs = append(s.msgs, m)
	return map[string]any{"ok": true, "channel": ch, "ts": ts, "message": view(m, true)}
}

func (s *Server) find(ch, ts string) *Message {
	for _, m := range s.msgs {
		if m.Channel == ch && m.TS == ts {
			return m
		}
	}
	return nil
}

func view(m *Message, meta bool) map[string]any {
	v := map[string]any{"type": "message", "ts": m.TS, "text": m.Text}
	if m.ThreadTS != "" {
		v["thread_ts"] = m.ThreadTS
	}
	if m.Blocks != nil {
		v["blocks"] = m.Blocks
	}
	if meta && m.Metadata != nil {
		v["metadata"] = m.Metadata
	}
	return v
}

// Messages are copies of every message held, in the order posted.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = *m
		out[i].Channel = m.Channel
	}
	return out
}

// TopLevel are the channel's messages that are not thread replies.
func (s *Server) TopLevel(channelID string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		if m.Channel == channelID && m.ThreadTS == "" {
			out = append(out, m)
		}
	}
	return out
}

// Replies are the replies in the thread of ts, oldest first.
func (s *Server) Replies(channelID, ts string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		if m.Channel == channelID && m.ThreadTS == ts {
			out = append(out, m)
		}
	}
	return out
}

// Calls are the requests received so far (without the token).
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// EventID is the event_id of a message's metadata, "" if it has none.
func (m Message) EventID() (id, part string) {
	var md struct {
		EventType    string `json:"event_type"`
		EventPayload struct {
			EventID string `json:"event_id"`
			Part    string `json:"part"`
		} `json:"event_payload"`
	}
	if json.Unmarshal(m.Metadata, &md) != nil {
		return "", ""
	}
	return md.EventPayload.EventID, md.EventPayload.Part
}
