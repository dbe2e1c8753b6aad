// Package slackhook is a fake Slack incoming webhook, speaking Slack's wire
// format: a JSON POST to the hook's path is answered 200 "ok"; a POST to
// another path 404 "no_service"; a body that is not a JSON message 400
// "invalid_payload". Beyond that a test (or the bench) decides the answers:
// a queue of replies, a function of the post, Slack's pacing of one
// message per second per channel (429 "rate_limited" with Retry-After),
// or an answer that never comes until the client gives up. It records
// every well-formed post, with the answer it got.
//
// It is the one fake webhook of the tests, the e2e tests and the bench
// (which runs it outside any test, hence no testing import).
package slackhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"
)

// WebhookRate is Slack's limit on incoming webhooks: one message per second
// per channel (short bursts tolerated by Slack, not by this fake).
const WebhookRate = rate.Limit(1)

// maxBody is more than any Block Kit message (50 blocks of 3000
// characters) may hold.
const maxBody = 1 << 20

// Reply is how the hook answers one post.
type Reply struct {
	Status     int
	Body       string // Slack's short error code, or "ok"
	RetryAfter string // the Retry-After header, if any
	// Hang writes the answer only once the client has given up (its
	// request ended: a timeout), so the client never learns that the post
	// was taken.
	Hang bool
}

// OK is Slack's answer to a message it took.
var OK = Reply{Status: http.StatusOK, Body: "ok"}

// Refusal is Slack's answer with status code: its error code for the
// status (400 invalid_payload, 403 action_prohibited, 404 no_service, 410
// channel_is_archived, 429 rate_limited with Retry-After: 1, 500
// rollup_error), or the status text for another.
func Refusal(code int) Reply {
	r := Reply{Status: code, Body: strings.ReplaceAll(strings.ToLower(http.StatusText(code)), " ", "_")}
	switch code {
	case http.StatusBadRequest:
		r.Body = "invalid_payload"
	case http.StatusForbidden:
		r.Body = "action_prohibited"
	case http.StatusNotFound:
		r.Body = "no_service"
	case http.StatusGone:
		r.Body = "channel_is_archived"
	case http.StatusTooManyRequests:
		r.Body, r.RetryAfter = "rate_limited", "1"
	case http.StatusInternalServerError:
		r.Body = "rollup_error"
	}
	return r
}

// Options says which posts a hook takes and how it answers them.
type Options struct {
	// Path is the hook's path ("/services/T…/B…/token"): a POST to any
	// other is answered 404 no_service, as Slack answers a revoked or
	// mistyped hook.
	Path string
	// Token, instead of Path, takes a POST to any path ending in
	// "/"+Token: every hook of one workspace. With neither, every path is
	// a hook of its own (a channel, for the pacing).
	Token string
	// Now is the hook's clock (nil: time.Now), for the pacing and the
	// times it records.
	Now func() time.Time
	// PerChannel paces each channel (the path, or the message's channel
	// field) as Slack does: beyond it, 429 rate_limited with Retry-After:
	// 1. Zero: no pacing.
	PerChannel rate.Limit
	// Respond, if set, answers post n (every well-formed post, from 0)
	// when no queued reply does; a zero Reply leaves the answer to the
	// pacing, then OK. It is called under the hook's lock, one post at a
	// time, so it must not call the hook's methods.
	Respond func(n int, p Post) Reply
}

// Post is one well-formed post the hook received.
type Post struct {
	At       time.Time // when it arrived
	Answered time.Time // when its answer was written; zero until then
	Channel  string    // the path, or the message's channel field
	Body     []byte    // as posted
	Msg      slack.WebhookMessage
	Status   int // the answer's
}

// Hook is the fake webhook, an http.Handler safe for concurrent use.
type Hook struct {
	o Options

	mu       sync.Mutex
	posts    []Post
	queued   []Reply
	limiters map[string]*rate.Limiter
}

// New returns a hook answering as o says.
func New(o Options) *Hook {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Hook{o: o, limiters: map[string]*rate.Limiter{}}
}

// Queue makes the next posts get replies, in order, before anything else
// decides.
func (h *Hook) Queue(replies ...Reply) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.queued = append(h.queued, replies...)
}

func (h *Hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "invalid_method", http.StatusMethodNotAllowed)
		return
	}
	if !h.takes(r.URL.Path) {
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	mt, _, mtErr := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var msg slack.WebhookMessage
	if err != nil || mtErr != nil || mt != "application/json" || json.Unmarshal(body, &msg) != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	channel := r.URL.Path
	if msg.Channel != "" {
		channel = msg.Channel // a legacy hook may post to another channel
	}
	n, rep := h.answer(Post{Channel: channel, Body: body, Msg: msg})
	if rep.Hang {
		<-r.Context().Done()
	}
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(rep.Status)
	_, _ = io.WriteString(w, rep.Body)
	h.mu.Lock()
	h.posts[n].Answered = h.o.Now()
	h.mu.Unlock()
}

// takes says whether path is this hook's.
func (h *Hook) takes(path string) bool {
	switch {
	case h.o.Path != "":
		return path == h.o.Path
	case h.o.Token != "":
		return strings.HasSuffix(path, "/"+h.o.Token)
	}
	return true
}

// answer records p and decides its reply: the queue, Respond, the pacing,
// OK. n is p's index.
func (h *Hook) answer(p Post) (int, Reply) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p.At = h.o.Now()
	n := len(h.posts)
	var rep Reply
	switch {
	case len(h.queued) > 0:
		rep, h.queued = h.queued[0], h.queued[1:]
	case h.o.Respond != nil:
		rep = h.o.Respond(n, p)
	}
	if rep.Status == 0 && !h.admit(p.Channel, p.At) {
		rep = Refusal(http.StatusTooManyRequests)
	}
	if rep.Status == 0 {
		rep = OK
	}
	p.Status = rep.Status
	h.posts = append(h.posts, p)
	return n, rep
}

// admit reports whether channel's bucket lets a message through at now.
func (h *Hook) admit(channel string, now time.Time) bool {
	if h.o.PerChannel == 0 {
		return true
	}
	l, ok := h.limiters[channel]
	if !ok {
		l = rate.NewLimiter(h.o.PerChannel, 1)
		h.limiters[channel] = l
	}
	return l.AllowN(now, 1)
}

// Posts is every well-formed post so far, in arrival order, whatever its
// answer.
func (h *Hook) Posts() []Post {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.posts)
}

// Accepted is the posts answered 200 whose answer has been written (a
// post is recorded as it arrives, and answered after).
func (h *Hook) Accepted() []Post {
	var ok []Post
	for _, p := range h.Posts() {
		if p.Status == http.StatusOK && !p.Answered.IsZero() {
			ok = append(ok, p)
		}
	}
	return ok
}

// Texts is the text field of each accepted message.
func (h *Hook) Texts() []string {
	var out []string
	for _, p := range h.Accepted() {
		out = append(out, p.Msg.Text)
	}
	return out
}

// Count is the number of posts answered status.
func (h *Hook) Count(status int) int {
	n := 0
	for _, p := range h.Posts() {
		if p.Status == status {
			n++
		}
	}
	return n
}

// Serve answers on a fresh loopback port until ctx is done or stop is
// called; url is the hook's URL (Path, or a path like Slack's ending in
// Token, or "/services/TFAKE/BFAKE/hook"). stop waits for the server to
// end.
func (h *Hook) Serve(ctx context.Context) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("slack hook: listen: %w", err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A failure shows as posts that never arrive, which the caller sees.
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
	return "http://" + ln.Addr().String() + h.path(), stop, nil
}

// path is a path the hook takes.
func (h *Hook) path() string {
	switch {
	case h.o.Path != "":
		return h.o.Path
	case h.o.Token != "":
		return "/services/TFAKE/BFAKE/" + h.o.Token
	}
	return "/services/TFAKE/BFAKE/hook"
}

// Server is a hook on an httptest server of a test.
type Server struct {
	*Hook
	*httptest.Server
}

// TB is what Start needs of a test (testing.TB has it).
type TB interface {
	Helper()
	Cleanup(func())
}

// Start serves a hook answering as o says until the test ends.
func Start(t TB, o Options) *Server {
	t.Helper()
	s := &Server{Hook: New(o)}
	s.Server = httptest.NewServer(s.Hook)
	t.Cleanup(s.Close)
	return s
}

// WebhookURL is the hook's URL: Path, or a path like Slack's ending in
// Token (or "hook").
func (s *Server) WebhookURL() string { return s.URL + s.path() }
