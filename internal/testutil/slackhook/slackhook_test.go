package slackhook_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

// post sends body to url as the watcher's sender does and returns the
// answer.
func post(t *testing.T, url, contentType, body string) (int, string, string) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer), resp.Header.Get("Retry-After")
}

func TestPerChannelPacing(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := slackhook.Start(t, slackhook.Options{Now: clock.Now, PerChannel: slackhook.WebhookRate})
	const a, b = "/services/T0/B0/a", "/services/T0/B0/b"
	if code, body, _ := post(t, s.URL+a, "application/json", `{"text":"one"}`); code != 200 || body != "ok" {
		t.Fatalf("first message: %d %q, want 200 ok", code, body)
	}
	clock.Set(clock.Now().Add(900 * time.Millisecond))
	if code, body, ra := post(t, s.URL+a, "application/json", `{"text":"two"}`); code != 429 || body != "rate_limited" || ra != "1" {
		t.Fatalf("second message within the second: %d %q Retry-After %q, want 429 rate_limited 1", code, body, ra)
	}
	if code, _, _ := post(t, s.URL+b, "application/json", `{"text":"elsewhere"}`); code != 200 {
		t.Fatalf("another channel in the same second: %d, want 200", code)
	}
	clock.Set(clock.Now().Add(100 * time.Millisecond))
	if code, _, _ := post(t, s.URL+a, "application/json", `{"text":"three"}`); code != 200 {
		t.Fatalf("a second after the first: %d, want 200", code)
	}
	if code, body, _ := post(t, s.URL+a, "application/json", `not json`); code != 400 || body != "invalid_payload\n" {
		t.Fatalf("malformed payload: %d %q, want 400 invalid_payload", code, body)
	}
	acc := s.Accepted()
	if len(acc) != 3 || s.Count(http.StatusTooManyRequests) != 1 || len(s.Posts()) != 4 {
		t.Fatalf("%d accepted, %d rate limited, %d posts; want 3, 1, 4", len(acc), s.Count(429), len(s.Posts()))
	}
	if string(acc[2].Body) != `{"text":"three"}` || acc[2].Channel != a || acc[2].Msg.Text != "three" {
		t.Errorf("last accepted = %s on %s", acc[2].Body, acc[2].Channel)
	}
	if got := s.Texts(); strings.Join(got, ",") != "one,elsewhere,three" {
		t.Errorf("Texts = %q", got)
	}
}

// A hook takes only its own path (or, by Token, any path of its token),
// only POSTs of JSON.
func TestPathsAndPayloads(t *testing.T) {
	exact := slackhook.Start(t, slackhook.Options{Path: "/services/T1/B1/secret"})
	byToken := slackhook.Start(t, slackhook.Options{Token: "secret"})
	for _, tc := range []struct {
		url, contentType, body string
		code                   int
		answer                 string
	}{
		{exact.WebhookURL(), "application/json", `{"text":"hi"}`, 200, "ok"},
		{exact.WebhookURL(), "application/json; charset=utf-8", `{"text":"hi"}`, 200, "ok"},
		{exact.URL + "/services/T1/B2/secret", "application/json", `{"text":"hi"}`, 404, "no_service\n"},
		{exact.WebhookURL(), "text/plain", `{"text":"hi"}`, 400, "invalid_payload\n"},
		{byToken.URL + "/services/T9/B9/secret", "application/json", `{"text":"hi"}`, 200, "ok"},
		{byToken.URL + "/services/T9/B9/other", "application/json", `{"text":"hi"}`, 404, "no_service\n"},
	} {
		if code, answer, _ := post(t, tc.url, tc.contentType, tc.body); code != tc.code || answer != tc.answer {
			t.Errorf("POST %s (%s): %d %q, want %d %q", tc.url, tc.contentType, code, answer, tc.code, tc.answer)
		}
	}
	if resp, err := http.Get(exact.WebhookURL()); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v %v, want 405", resp, err)
	}
	if len(exact.Posts()) != 2 || len(byToken.Posts()) != 1 {
		t.Errorf("recorded %d and %d posts, want the 2 and 1 well-formed ones", len(exact.Posts()), len(byToken.Posts()))
	}
}

// Queued replies come first, then Respond's, then the default.
func TestQueueRespondAndRefusals(t *testing.T) {
	s := slackhook.Start(t, slackhook.Options{Path: "/h", Respond: func(n int, p slackhook.Post) slackhook.Reply {
		if p.Msg.Text == "gone" {
			return slackhook.Refusal(http.StatusGone)
		}
		return slackhook.Reply{}
	}})
	s.Queue(slackhook.Refusal(404), slackhook.Refusal(429), slackhook.Refusal(500))
	for _, want := range []struct {
		text        string
		code        int
		body, retry string
	}{
		{"a", 404, "no_service", ""},
		{"a", 429, "rate_limited", "1"},
		{"a", 500, "rollup_error", ""},
		{"gone", 410, "channel_is_archived", ""},
		{"a", 200, "ok", ""},
	} {
		if code, body, retry := post(t, s.WebhookURL(), "application/json", `{"text":"`+want.text+`"}`); code != want.code || body != want.body || retry != want.retry {
			t.Errorf("%q: %d %q Retry-After %q, want %d %q %q", want.text, code, body, retry, want.code, want.body, want.retry)
		}
	}
	if n := len(s.Accepted()); n != 1 {
		t.Errorf("%d accepted, want 1", n)
	}
}

// A hanging answer comes only once the client has given up; the post is
// recorded on arrival.
func TestHang(t *testing.T) {
	s := slackhook.Start(t, slackhook.Options{Path: "/h"})
	s.Queue(slackhook.Reply{Status: 200, Body: "ok", Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.WebhookURL(), strings.NewReader(`{"text":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a hanging answer came: %d", resp.StatusCode)
	}
	if n := len(s.Posts()); n != 1 {
		t.Fatalf("%d posts recorded, want the hung one", n)
	}
	testutil.Eventually(t, "the hung post answered once the client gave up", func() bool { return len(s.Accepted()) == 1 })
}

func TestServe(t *testing.T) {
	h := slackhook.New(slackhook.Options{Token: "tok"})
	url, stop, err := h.Serve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if !strings.HasSuffix(url, "/tok") {
		t.Errorf("url %q does not end in the token", url)
	}
	if code, _, _ := post(t, url, "application/json", `{"text":"hi"}`); code != 200 || len(h.Accepted()) != 1 {
		t.Fatalf("POST to the served hook: %d, %d accepted", code, len(h.Accepted()))
	}
}
