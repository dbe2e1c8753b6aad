package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// SlackRate is Slack's limit on incoming webhooks: one message per second
// per channel, short bursts tolerated by Slack but not by this sink.
const SlackRate = rate.Limit(1)

// SinkMessage is a message the sink accepted.
type SinkMessage struct {
	Channel string
	Body    []byte
	At      time.Time
}

// SlackSink is a local Slack incoming webhook: it takes a JSON POST and
// answers 200 "ok", but at most one message per second per channel (a
// token bucket of one); beyond that it answers 429 with Retry-After: 1 and
// "rate_limited", as Slack does. It records every accepted message and
// counts the 429s. It is an http.Handler and safe for concurrent use.
type SlackSink struct {
	now func() time.Time

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
	accepted []SinkMessage
	limited  int
	attempts []time.Time // every well-formed POST, accepted or not
}

// NewSlackSink returns a sink on the clock now (nil: time.Now).
func NewSlackSink(now func() time.Time) *SlackSink {
	if now == nil {
		now = time.Now
	}
	return &SlackSink{now: now, limiters: map[string]*rate.Limiter{}}
}

// maxSinkBody is more than any Block Kit message (50 blocks of 3000
// characters) may hold.
const maxSinkBody = 1 << 20

func (s *SlackSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "invalid_method", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSinkBody))
	var msg struct {
		Channel string `json:"channel"`
	}
	if err != nil || json.Unmarshal(body, &msg) != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	// An incoming webhook posts to its own channel; a legacy one may name
	// another in the payload.
	channel := r.URL.Path
	if msg.Channel != "" {
		channel = msg.Channel
	}
	if !s.admit(channel, body) {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, "rate_limited")
		return
	}
	w.Header().Set("Content-Type", "text/html")
	_, _ = io.WriteString(w, "ok")
}

// admit records an attempt on channel and reports whether the channel's
// bucket lets it through; an accepted message is recorded.
func (s *SlackSink) admit(channel string, body []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.attempts = append(s.attempts, now)
	l, ok := s.limiters[channel]
	if !ok {
		l = rate.NewLimiter(SlackRate, 1)
		s.limiters[channel] = l
	}
	if !l.AllowN(now, 1) {
		s.limited++
		return false
	}
	s.accepted = append(s.accepted, SinkMessage{Channel: channel, Body: body, At: now})
	return true
}

// Accepted returns a copy of the accepted messages, in arrival order.
func (s *SlackSink) Accepted() []SinkMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.accepted)
}

// RateLimited is the number of 429 answers so far.
func (s *SlackSink) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

// Attempts returns the arrival time of every well-formed POST, accepted or
// refused: the rate at which the client tried.
func (s *SlackSink) Attempts() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attempts)
}

// Serve answers on a fresh loopback port until ctx is done or stop is
// called; url is the webhook URL to configure (path like Slack's, so the
// path is the channel). stop waits for the server to end.
func (s *SlackSink) Serve(ctx context.Context) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("slack sink: listen: %w", err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A failure shows as posts that never arrive, which the bench reports.
		_ = hs.Serve(ln)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = hs.Shutdown(sctx)
			<-done
		})
	}
	context.AfterFunc(ctx, stop)
	return "http://" + ln.Addr().String() + "/services/TBENCH000/BBENCH000/benchwebhooksecret", stop, nil
}

// Covered counts the needles (task names or ids: each entry lists the
// ways one task may be named) that appear in the text of the messages, so
// that a grouped message still has to name every task it stands for. The
// text is every JSON string of a body, escapes undone (\u003e), so names
// are found as Slack shows them.
func Covered(msgs []SinkMessage, tasks [][]string) int {
	var text strings.Builder
	for _, m := range msgs {
		var v any
		if json.Unmarshal(m.Body, &v) == nil {
			collectStrings(&text, v)
		}
	}
	all := text.String()
	n := 0
	for _, names := range tasks {
		if slices.ContainsFunc(names, func(s string) bool { return s != "" && strings.Contains(all, s) }) {
			n++
		}
	}
	return n
}

// collectStrings writes every string of a decoded JSON value, one a line.
func collectStrings(b *strings.Builder, v any) {
	switch x := v.(type) {
	case string:
		b.WriteString(x)
		b.WriteByte('\n')
	case []any:
		for _, e := range x {
			collectStrings(b, e)
		}
	case map[string]any:
		for _, e := range x {
			collectStrings(b, e)
		}
	}
}
