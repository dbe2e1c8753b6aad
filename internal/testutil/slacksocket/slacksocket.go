// Package slacksocket is a fake of Slack's Socket Mode, the websocket an
// app without a public endpoint receives its interactions on, speaking
// the protocol as slack-go's socketmode client expects it: the fake Web
// API (package slackapi) answers apps.connections.open with this
// server's ws:// URL; each connection gets a hello, then whatever the
// test pushes (interactive envelopes such as a button's block_actions,
// disconnect requests), and WebSocket pings so that the client does not
// think it dead. Every frame the client sends back is recorded as an ack
// with the time it came, so that a test sees which envelopes were acked
// and how soon. Like Slack, it holds several connections at once (an app
// may open up to 10, one per replica): a push goes to the newest unless
// the test names one.
//
// It is meant for tests only.
package slacksocket

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/dcs-watcher/watcher/internal/testutil/slackapi"
)

// pingEvery is how often the fake pings a connection: well inside the
// 30 s after which slack-go's client gives a silent socket up.
const pingEvery = 5 * time.Second

// Ack is a frame the client sent back: the envelope it acknowledges, any
// response payload, and when it came.
type Ack struct {
	EnvelopeID string          `json:"envelope_id"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	At         time.Time       `json:"-"`
}

// Sent is an envelope the fake pushed and when it went out.
type Sent struct {
	EnvelopeID string
	Type       string
	At         time.Time
}

// Server is the fake Socket Mode endpoint.
type Server struct {
	srv      *httptest.Server
	upgrader websocket.Upgrader

	mu    sync.Mutex
	conns []*conn // the live connections, oldest first
	opens int     // connections taken (each got a hello)
	acks  []Ack
	sent  []Sent
	seq   int
}

// conn is one websocket connection; writes are serialized, as gorilla's
// must be.
type conn struct {
	ws   *websocket.Conn
	wmu  sync.Mutex
	done chan struct{}
}

// New starts a fake Socket Mode endpoint and has api hand it out to
// clients that open a connection with appToken. It stops when the test
// ends.
func New(t interface {
	Cleanup(func())
	Helper()
}, api *slackapi.Server, appToken string) *Server {
	t.Helper()
	// slack-go dials with the Origin of Slack's own site.
	s := &Server{upgrader: websocket.Upgrader{CheckOrigin: func(r *http.Request) bool {
		return r.Header.Get("Origin") == "https://api.slack.com"
	}}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.close)
	api.SocketMode(appToken, s.URL)
	return s
}

// URL is the websocket URL apps.connections.open answers.
func (s *Server) URL() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/link/" }

func (s *Server) close() {
	for s.Connections() > 0 {
		s.Drop()
	}
	s.srv.Close()
}

// drop forgets c, and says whether it was live.
func (s *Server) drop(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.conns {
		if x == c {
			s.conns = append(s.conns[:i:i], s.conns[i+1:]...)
			return true
		}
	}
	return false
}

// live is the n-th live connection (0: the oldest; -1: the newest).
func (s *Server) live(n int) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n < 0 {
		n = len(s.conns) - 1
	}
	if n < 0 || n >= len(s.conns) {
		return nil
	}
	return s.conns[n]
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	c := &conn{ws: ws, done: make(chan struct{})}
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.opens++
	n := s.opens
	s.mu.Unlock()
	hello := map[string]any{
		"type": "hello", "num_connections": n,
		"debug_info":      map[string]any{"host": "applink-fake", "build_number": 1, "approximate_connection_time": 3600},
		"connection_info": map[string]any{"app_id": "A0WATCHER"},
	}
	if c.write(hello) != nil {
		return
	}
	go s.ping(c)
	s.read(c)
}

// read records every frame the client sends until the connection ends.
func (s *Server) read(c *conn) {
	defer func() {
		close(c.done)
		_ = c.ws.Close()
		s.drop(c)
	}()
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		a := Ack{At: time.Now()}
		if json.Unmarshal(data, &a) != nil {
			a.EnvelopeID = "" // not an ack: kept, so a test sees it
			a.Payload = json.RawMessage(data)
		}
		s.mu.Lock()
		s.acks = append(s.acks, a)
		s.mu.Unlock()
	}
}

func (s *Server) ping(c *conn) {
	tick := time.NewTicker(pingEvery)
	defer tick.Stop()
	for {
		c.wmu.Lock()
		err := c.ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
		c.wmu.Unlock()
		if err != nil {
			return
		}
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
	}
}

func (c *conn) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteJSON(v)
}

// ErrNotConnected says no client is connected.
var ErrNotConnected = errors.New("slacksocket: no client connected")

// Connected says whether a client holds a connection.
func (s *Server) Connected() bool { return s.Connections() > 0 }

// Connections is how many connections are live.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Opens is how many connections clients have opened (each got a hello).
func (s *Server) Opens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

// Push sends an envelope of type typ ("interactive", "events_api",
// "slash_commands") with payload on the newest connection and returns its
// envelope id.
func (s *Server) Push(typ string, payload any) (string, error) { return s.PushOn(-1, typ, payload) }

// PushOn is Push on the n-th live connection (0: the oldest; -1: the
// newest).
func (s *Server) PushOn(n int, typ string, payload any) (string, error) {
	c := s.live(n)
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("env-%04d", s.seq)
	s.mu.Unlock()
	if c == nil {
		return "", ErrNotConnected
	}
	env := map[string]any{"envelope_id": id, "type": typ, "payload": payload, "accepts_response_payload": false, "retry_attempt": 0, "retry_reason": ""}
	at := time.Now()
	if err := c.write(env); err != nil {
		return "", fmt.Errorf("slacksocket: push %s: %w", id, err)
	}
	s.mu.Lock()
	s.sent = append(s.sent, Sent{EnvelopeID: id, Type: typ, At: at})
	s.mu.Unlock()
	return id, nil
}

// Disconnect asks the client to reconnect, as Slack does before it
// recycles a connection (reason: "warning", "refresh_requested", ...).
// It asks the newest connection.
func (s *Server) Disconnect(reason string) error {
	c := s.live(-1)
	if c == nil {
		return ErrNotConnected
	}
	return c.write(map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]any{"host": "applink-fake"}})
}

// Drop closes the newest connection without a word, like a network that
// failed.
func (s *Server) Drop() {
	if c := s.live(-1); c != nil && s.drop(c) {
		_ = c.ws.Close()
	}
}

// Acks are the frames received so far, in order.
func (s *Server) Acks() []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Ack(nil), s.acks...)
}

// AckOf is the first ack of envelope id.
func (s *Server) AckOf(id string) (Ack, bool) {
	for _, a := range s.Acks() {
		if a.EnvelopeID == id {
			return a, true
		}
	}
	return Ack{}, false
}

// SentAt is when envelope id went out.
func (s *Server) SentAt(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.sent {
		if e.EnvelopeID == id {
			return e.At, true
		}
	}
	return time.Time{}, false
}
