package delivery

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

// outcome is how a caller must treat a Send error.
type outcome int

const (
	delivered outcome = iota
	rateLimited
	permanent
	dead
	retryable
)

func classifyErr(err error) outcome {
	var rl *slack.RateLimitedError
	switch {
	case err == nil:
		return delivered
	case errors.As(err, &rl):
		return rateLimited
	case errors.Is(err, slackwire.ErrPermanent) && errors.Is(err, slackwire.ErrDeadDestination):
		return -1 // never both
	case errors.Is(err, slackwire.ErrPermanent):
		return permanent
	case errors.Is(err, slackwire.ErrDeadDestination):
		return dead
	default:
		return retryable
	}
}

func TestWebhookSenderFollowsSlackAnswers(t *testing.T) {
	tests := []struct {
		name       string
		reply      slackhook.Reply
		want       outcome
		retryAfter time.Duration
		errHas     string
	}{
		{"ok", slackhook.Reply{Status: 200, Body: "ok"}, delivered, 0, ""},
		{"rate limited", slackhook.Reply{Status: 429, Body: "rate_limited", RetryAfter: "7"}, rateLimited, 7 * time.Second, ""},
		{"rate limited without Retry-After", slackhook.Reply{Status: 429}, rateLimited, 30 * time.Second /* the default */, ""},
		{"invalid blocks", slackhook.Reply{Status: 400, Body: "invalid_blocks"}, permanent, 0, "HTTP 400 invalid_blocks"},
		{"invalid payload", slackhook.Reply{Status: 400, Body: "invalid_payload"}, permanent, 0, "invalid_payload"},
		{"too many attachments", slackhook.Reply{Status: 400, Body: "too_many_attachments"}, permanent, 0, "too_many_attachments"},
		{"payload too large", slackhook.Reply{Status: 413}, permanent, 0, "HTTP 413 Request Entity Too Large"},
		{"unknown 400 code", slackhook.Reply{Status: 400, Body: "something_new"}, permanent, 0, "HTTP 400 something_new"},
		// The destination is dead: every message would get the same answer.
		{"no service", slackhook.Reply{Status: 404, Body: "no_service"}, dead, 0, "HTTP 404 no_service"},
		{"invalid token", slackhook.Reply{Status: 403, Body: "invalid_token"}, dead, 0, "HTTP 403 invalid_token"},
		{"action prohibited", slackhook.Reply{Status: 403, Body: "action_prohibited"}, dead, 0, "HTTP 403 action_prohibited"},
		{"channel not found", slackhook.Reply{Status: 404, Body: "channel_not_found"}, dead, 0, "channel_not_found"},
		{"archived", slackhook.Reply{Status: 410, Body: "channel_is_archived"}, dead, 0, "HTTP 410 channel_is_archived"},
		{"no team", slackhook.Reply{Status: 404, Body: "no_team"}, dead, 0, "no_team"},
		{"team disabled", slackhook.Reply{Status: 403, Body: "team_disabled"}, dead, 0, "team_disabled"},
		{"gone, no body", slackhook.Reply{Status: 410}, dead, 0, "HTTP 410 Gone"},
		{"a dead code under 400", slackhook.Reply{Status: 400, Body: "no_service"}, dead, 0, "HTTP 400 no_service"},
		{"a message code under 404", slackhook.Reply{Status: 404, Body: "invalid_blocks"}, permanent, 0, "HTTP 404 invalid_blocks"},
		{"server error", slackhook.Reply{Status: 500, Body: "rollup_error"}, retryable, 0, "HTTP 500 rollup_error"},
		{"unavailable, no body", slackhook.Reply{Status: 503}, retryable, 0, "HTTP 503 Service Unavailable"},
		{"request timeout", slackhook.Reply{Status: 408}, retryable, 0, "HTTP 408"},
		// A server that quotes the request path must not leak it either.
		{"echoed path", slackhook.Reply{Status: 404, Body: "no_service " + secretPath}, dead, 0, "no_service <webhook>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHook(t, func(int, slack.WebhookMessage) slackhook.Reply { return tt.reply })
			msg := slackmsg.Render(statusChanged("e1", "orders-cache-move", "FULLMIGRATING", "INCRMIGEATING"))
			err := slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}.Send(context.Background(), &msg)
			if got := classifyErr(err); got != tt.want {
				t.Fatalf("Send error %v classified %d, want %d", err, got, tt.want)
			}
			var rl *slack.RateLimitedError
			if errors.As(err, &rl) && rl.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter = %s, want %s", rl.RetryAfter, tt.retryAfter)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Errorf("error %q lacks %q", err, tt.errHas)
				}
				assertNoSecret(t, "error", err.Error())
			}
			posts := f.Posts()
			if len(posts) != 1 || headerText(posts[0].Msg) != headerText(msg) {
				t.Fatalf("Slack received %d posts, want the rendered message once", len(posts))
			}
		})
	}
}

func TestWebhookSenderErrorsHideTheURL(t *testing.T) {
	msg := slackmsg.Render(statusChanged("e1", "t", "MIGRATING", "SUCCESS"))

	t.Run("connection refused", func(t *testing.T) {
		f := newHook(t, nil)
		url := secret.Secret(f.WebhookURL())
		f.Close()
		err := slackwire.WebhookSender{URL: url}.Send(context.Background(), &msg)
		if classifyErr(err) != retryable {
			t.Fatalf("Send to a closed server: %v, want a retryable error", err)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("error %q does not unwrap to ECONNREFUSED", err)
		}
		assertNoSecret(t, "error", err.Error())
		assertUnwrapsNoSecret(t, err)
	})

	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		f := newHook(t, func(int, slack.WebhookMessage) slackhook.Reply { <-release; return slackhook.Reply{Status: 200} })
		defer close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := slackwire.WebhookSender{URL: secret.Secret(f.WebhookURL())}.Send(ctx, &msg)
		if !errors.Is(err, context.DeadlineExceeded) || classifyErr(err) != retryable {
			t.Fatalf("Send past its deadline: %v, want a retryable DeadlineExceeded", err)
		}
		assertNoSecret(t, "error", err.Error())
		assertUnwrapsNoSecret(t, err)
	})

	for name, bad := range map[string]string{
		"unparsable URL": "http://bad host" + secretPath,
		"no URL":         "",
		"not HTTP":       "ftp://hooks.example" + secretPath,
		"no host":        secretPath,
	} {
		t.Run(name, func(t *testing.T) {
			err := slackwire.WebhookSender{URL: secret.Secret(bad)}.Send(context.Background(), &msg)
			// No message can get through: the destination is dead, not
			// the message bad, so events wait for the fixed config.
			if classifyErr(err) != dead {
				t.Fatalf("Send: %v, want a dead-destination error", err)
			}
			assertNoSecret(t, "error", err.Error())
		})
	}
}

func assertNoSecret(t *testing.T, where, text string) {
	t.Helper()
	if strings.Contains(text, secretToken) || strings.Contains(text, "/services/T000") {
		t.Errorf("%s leaks the webhook URL: %s", where, text)
	}
}

func assertUnwrapsNoSecret(t *testing.T, err error) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		assertNoSecret(t, "wrapped error", e.Error())
	}
}

func TestConsoleSenderWritesReadableBlocks(t *testing.T) {
	var buf testutil.SyncBuffer
	c := &slackwire.ConsoleSender{W: &buf}
	curr := task("orders-cache-move", "FAILED")
	curr.ErrorMessage = "disk <full> & more"
	msg := slackmsg.Render(envelope("e1", diff.StatusChanged, task("orders-cache-move", "MIGRATING"), curr, 3*time.Minute+12*time.Second))

	const senders = 20
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			if err := c.Send(context.Background(), &msg); err != nil {
				t.Errorf("Send: %v", err)
			}
		})
	}
	wg.Wait()

	out := buf.String()
	if strings.HasPrefix(strings.TrimSpace(out), "{") {
		t.Fatalf("console output is JSON, want text:\n%s", out)
	}
	chunks := strings.Split(out, "── slack")
	if len(chunks) != senders+1 {
		t.Fatalf("got %d messages, want %d", len(chunks)-1, senders)
	}
	for _, chunk := range chunks[1:] {
		// Each message whole, in order: no interleaving between senders.
		want := []string{
			":x: orders-cache-move: MIGRATING -> FAILED\n",
			"  Project: " + project + "\n",
			"  Time in previous status: 3m12s\n",
			"  Source: redis-src / 192.168.0.10:6379\n",
			"  disk <full> & more\n",
			"  text: orders-cache-move: MIGRATING -> FAILED (project " + project + ")\n",
		}
		rest := chunk
		for _, w := range want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Fatalf("message lacks %q (or it is out of order):\n%s", w, chunk)
			}
			rest = rest[i+len(w):]
		}
	}
}

func TestConsoleSenderReportsWriteErrors(t *testing.T) {
	msg := slackmsg.Render(statusChanged("e1", "t", "MIGRATING", "SUCCESS"))
	err := (&slackwire.ConsoleSender{W: failingWriter{}}).Send(context.Background(), &msg)
	if err == nil || !errors.Is(err, errDiskFull) {
		t.Fatalf("Send to a failing writer: %v, want it wrapped", err)
	}
	var buf bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (&slackwire.ConsoleSender{W: &buf}).Send(ctx, &msg); !errors.Is(err, context.Canceled) || buf.Len() != 0 {
		t.Fatalf("Send with a cancelled ctx: %v, wrote %d bytes", err, buf.Len())
	}
}

var errDiskFull = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }
