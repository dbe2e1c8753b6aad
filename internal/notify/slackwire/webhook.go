package slackwire

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/msgtmpl"
	"github.com/dcs-watcher/watcher/internal/retry"
	"github.com/dcs-watcher/watcher/internal/secret"
)

// ErrPermanent marks a message Slack refused for good (invalid_blocks,
// invalid_payload, too_many_attachments, ...): sending it again cannot
// succeed, but the next message may.
var ErrPermanent = errors.New("message refused for good, not retried")

// ErrDeadDestination marks an answer about the destination, not the
// message: the webhook was revoked (no_service, invalid_token), its channel
// archived or deleted (channel_is_archived, channel_not_found), its
// workspace disabled (no_team, team_disabled), posting there forbidden
// (action_prohibited), or the URL is unusable. Every message would get the
// same answer, so the caller keeps its messages and probes until it works.
var ErrDeadDestination = errors.New("slack destination is dead: every message would be refused")

// deadCodes are Slack's webhook error codes that speak of the destination;
// messageCodes those that speak of the message. A code in neither is
// judged by its status (see classify).
var (
	deadCodes = map[string]bool{
		"no_service": true, "no_service_id": true, "no_team": true, "team_disabled": true,
		"invalid_token": true, "token_revoked": true, "token_expired": true, "account_inactive": true,
		"channel_not_found": true, "channel_is_archived": true, "user_not_found": true,
		"action_prohibited": true, "posting_to_general_channel_denied": true,
	}
	messageCodes = map[string]bool{
		"invalid_payload": true, "invalid_blocks": true, "invalid_blocks_format": true,
		"invalid_attachments": true, "too_many_attachments": true, "no_text": true, "msg_too_long": true,
	}
)

// defaultRetryAfter is used when a 429 carries no usable Retry-After.
const defaultRetryAfter = 30 * time.Second

// maxResponseBody bounds what is read of a webhook's answer: Slack answers
// "ok" or a short error code.
const maxResponseBody = 4 << 10

// WebhookSender posts to a Slack incoming webhook. slack-go's
// PostWebhookCustomHTTPContext is not used: its errors carry the URL (a
// *url.Error) and drop the body that names the reason (invalid_blocks), and
// both matter here.
type WebhookSender struct {
	URL secret.Secret
	// HTTPClient is the transport; nil means http.DefaultClient. Give it a
	// timeout, or rely on the ctx of Send.
	HTTPClient *http.Client
}

// Send posts msg as JSON and classifies Slack's answer: 2xx is success;
// 429 is a *slack.RateLimitedError with the server's Retry-After; 408 and
// 5xx are retryable; a revoked or barred destination (403 invalid_token or
// action_prohibited, 404 no_service or channel_not_found, 410
// channel_is_archived, ...) and a malformed URL wrap ErrDeadDestination;
// any other 4xx (400 invalid_blocks, invalid_payload, ...) wraps
// ErrPermanent. No error text holds the URL.
func (w WebhookSender) Send(ctx context.Context, msg *slack.WebhookMessage) error {
	_, err := w.Post(ctx, msg)
	return err
}

// Answer is what Slack answered to a post: the HTTP status and the body
// (at most maxResponseBody, without the webhook URL).
type Answer struct {
	Status int
	Body   string
}

// Post is Send that also returns Slack's answer, for `watcher
// notify-test`; the answer is zero when no answer came.
func (w WebhookSender) Post(ctx context.Context, msg *slack.WebhookMessage) (Answer, error) {
	body, err := json.Marshal(msg)
	if err != nil {
		return Answer{}, fmt.Errorf("slack webhook: encode message: %w", err)
	}
	// Parse errors quote the URL: say only that it is malformed. A missing
	// or non-HTTP URL would otherwise fail in the transport and be retried
	// for ever.
	u, err := url.Parse(w.URL.Reveal())
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Answer{}, fmt.Errorf("slack webhook: invalid or missing webhook URL: %w", ErrDeadDestination)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return Answer{}, fmt.Errorf("slack webhook: build request: %w", ErrDeadDestination)
	}
	req.Header.Set("Content-Type", "application/json")
	client := w.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Answer{}, &transportError{cause: err, text: w.redact(causeText(err))}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody)) // lets the connection be reused
	return Answer{Status: resp.StatusCode, Body: w.redact(printable(answer, maxResponseBody))}, w.classify(resp, answer)
}

func (w WebhookSender) classify(resp *http.Response, answer []byte) error {
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests:
		return &slack.RateLimitedError{RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	}
	reason := w.redact(printable(answer, 200))
	if reason == "" {
		reason = http.StatusText(code)
	}
	if code == http.StatusRequestTimeout || code >= 500 {
		return fmt.Errorf("slack webhook: HTTP %d %s", code, reason)
	}
	if deadDestination(code, reason) {
		return fmt.Errorf("slack webhook: HTTP %d %s: %w", code, reason, ErrDeadDestination)
	}
	return fmt.Errorf("slack webhook: HTTP %d %s: %w", code, reason, ErrPermanent)
}

// deadDestination says whether a 4xx answer (other than 408 and 429)
// speaks of the destination rather than of the message. Slack's code (the
// first word of the body) decides when it is known; otherwise 401, 403,
// 404 and 410 (no such hook, not allowed, gone) say the destination is
// dead and the rest (400, 413, ...) that the message is bad. Erring
// towards "dead" costs a delay; erring towards "bad message" would
// discard every event.
func deadDestination(status int, reason string) bool {
	code, _, _ := strings.Cut(reason, " ")
	switch {
	case deadCodes[code]:
		return true
	case messageCodes[code]:
		return false
	}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone:
		return true
	}
	return false
}

// redact removes the webhook URL and its path from text that came from
// outside (a server's answer, a transport error): the path is the secret.
func (w WebhookSender) redact(text string) string {
	raw := w.URL.Reveal()
	if raw == "" {
		return text
	}
	text = strings.ReplaceAll(text, raw, "<webhook>")
	if u, err := url.Parse(raw); err == nil && len(u.Path) > 1 {
		text = strings.ReplaceAll(text, u.Path, "<webhook>")
		if u.RawQuery != "" {
			text = strings.ReplaceAll(text, u.RawQuery, "<webhook>")
		}
	}
	return text
}

// retryAfter reads Retry-After in seconds (what Slack sends) or as an HTTP
// date; defaultRetryAfter when it is absent or unusable.
func retryAfter(v string) time.Duration {
	if d, ok := retry.After(v, time.Now()); ok {
		return d
	}
	return defaultRetryAfter
}

// transportError is a failed POST. Its text is the cause ("connection
// refused", a timeout) without the URL that net/http's *url.Error would
// print; Unwrap gives the cause, not the *url.Error, so errors.Is works for
// context.DeadlineExceeded or syscall.ECONNREFUSED and nobody who unwraps
// it finds the URL.
type transportError struct {
	cause error
	text  string
}

func (e *transportError) Error() string { return "slack webhook: post: " + e.text }

func (e *transportError) Unwrap() error { return secret.URLCause(e.cause) }

func causeText(err error) string { return secret.URLCause(err).Error() }

// printable is the answer as one short line, for an error text.
func printable(b []byte, max int) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, strings.TrimSpace(string(b)))
	return msgtmpl.Clip(s, max)
}

// ConsoleSender writes each message as a readable text block, the console
// Slack sink of `watcher demo`. Use it as a pointer (&ConsoleSender{W: w});
// it is safe for concurrent use: each message is written whole.
type ConsoleSender struct {
	W  io.Writer
	mu sync.Mutex
}

// Send writes msg to W.
func (c *ConsoleSender) Send(ctx context.Context, msg *slack.WebhookMessage) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("console slack: %w", err)
	}
	text := slackmsg.Plain(msg)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.W, text); err != nil {
		return fmt.Errorf("console slack: write: %w", err)
	}
	return nil
}
