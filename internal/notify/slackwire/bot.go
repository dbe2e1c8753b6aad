package slackwire

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/secret"
)

// Bot-token mode: posts go through Slack's Web API (chat.postMessage,
// chat.update) as a bot user, to a channel, and every post carries message
// metadata naming the event, so that after an answer that never came the
// channel's history says whether Slack took it (see postOnce).
const (
	// MetadataEventType is the event_type of every message the watcher
	// posts in bot mode; its payload is {event_id, part}.
	MetadataEventType = "dcs_watcher_event"
	// pageSize is how many messages one read of a channel's history or a
	// thread's replies asks for: what Slack recommends; the look-up pages
	// on with the cursor until it has read everything since its bound.
	pageSize = 200
)

// Bot is the connection of the bot-token mode to Slack's Web API. It is
// safe for concurrent use: each lane keeps its own channel state.
type Bot struct {
	api *slack.Client
}

// NewBot returns a Bot that authenticates with token. apiURL is Slack's
// Web API base ("https://slack.com/api/"; a test server's URL in tests);
// hc is the transport, give it a timeout or rely on the ctx of each call.
func NewBot(token secret.Secret, apiURL string, hc *http.Client) *Bot {
	if hc == nil {
		hc = http.DefaultClient
	}
	opts := []slack.Option{slack.OptionHTTPClient(hc)}
	if apiURL != "" {
		if !strings.HasSuffix(apiURL, "/") {
			apiURL += "/"
		}
		opts = append(opts, slack.OptionAPIURL(apiURL))
	}
	return &Bot{api: slack.New(token.Reveal(), opts...)}
}

// metadata is the message metadata of a post: the event it carries and
// which part of the conversation it is.
func metadata(eventID, part string) slack.SlackMetadata {
	return slack.SlackMetadata{EventType: MetadataEventType, EventPayload: map[string]any{"event_id": eventID, "part": part}}
}

// carries says whether a message Slack returned is the post of eventID as
// part.
func carries(m slack.Message, eventID, part string) bool {
	md := m.Metadata
	if md.EventType != MetadataEventType {
		return false
	}
	id, _ := md.EventPayload["event_id"].(string)
	p, _ := md.EventPayload["part"].(string)
	return id == eventID && p == part
}

// PostPart sends msg to channel (in the thread of threadTS when it is
// set) with the metadata naming it the post of eventID as part, and returns the channel id and the message's ts.
func (b *Bot) PostPart(ctx context.Context, channel, threadTS string, msg slack.WebhookMessage, eventID, part string) (string, string, error) {
	opts := append(msgOptions(msg), slack.MsgOptionMetadata(metadata(eventID, part)))
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	ch, ts, err := b.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return "", "", botError("chat.postMessage", err)
	}
	return ch, ts, nil
}

// Update replaces the message at ts with msg, its metadata naming it
// the post of eventID as part; metadata is kept by Slack
// unless given again, and it is given again so that the card still names
// the event that opened it.
func (b *Bot) Update(ctx context.Context, channel, ts string, msg slack.WebhookMessage, eventID, part string) error {
	opts := append(msgOptions(msg), slack.MsgOptionMetadata(metadata(eventID, part)))
	if _, _, _, err := b.api.UpdateMessageContext(ctx, channel, ts, opts...); err != nil {
		return botError("chat.update", err)
	}
	return nil
}

// Find looks for the post of eventID as part among the channel's
// messages, or the replies of threadTS when it is set, posted since
// since (zero: the whole thread or history), and returns its ts ("" when
// Slack has no such message). It reads page after page with the cursor
// until the post is found or the range is read to its end, so that a
// thread of any length is searched whole; the bound keeps that to the
// few messages posted since the lost attempt.
func (b *Bot) Find(ctx context.Context, channelID, threadTS, eventID, part string, since time.Time) (string, error) {
	oldest := ""
	if !since.IsZero() {
		oldest = slackTS(since)
	}
	cursor := ""
	for {
		msgs, next, err := b.page(ctx, channelID, threadTS, oldest, cursor)
		if err != nil {
			return "", err
		}
		for _, m := range msgs {
			if carries(m, eventID, part) {
				return m.Timestamp, nil
			}
		}
		if next == "" {
			return "", nil
		}
		cursor = next
	}
}

// page is one page of the look-up: replies of threadTS (oldest first) or
// the channel's history (newest first), from oldest on, and the cursor of
// the next page ("" at the end).
func (b *Bot) page(ctx context.Context, channelID, threadTS, oldest, cursor string) ([]slack.Message, string, error) {
	if threadTS != "" {
		m, more, next, err := b.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: channelID, Timestamp: threadTS, Cursor: cursor, Oldest: oldest, Inclusive: true,
			Limit: pageSize, IncludeAllMetadata: true,
		})
		if err != nil {
			return nil, "", botError("conversations.replies", err)
		}
		return m, moreAt(more, next), nil
	}
	h, err := b.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: channelID, Cursor: cursor, Oldest: oldest, Inclusive: true, Limit: pageSize, IncludeAllMetadata: true,
	})
	if err != nil {
		return nil, "", botError("conversations.history", err)
	}
	return h.Messages, moreAt(h.HasMore, h.ResponseMetaData.NextCursor), nil
}

func moreAt(hasMore bool, next string) string {
	if !hasMore {
		return ""
	}
	return next
}

// slackTS is t as a Slack ts ("<seconds>.<microseconds>").
func slackTS(t time.Time) string {
	us := t.UnixMicro()
	return fmt.Sprintf("%d.%06d", us/1_000_000, us%1_000_000)
}

// TSTime is the time a Slack ts names; zero if it is not one.
func TSTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}
	}
	us, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return time.UnixMicro(s*1_000_000 + us)
}

// msgOptions are the options that put msg's fallback text and blocks into
// a Web API post.
func msgOptions(msg slack.WebhookMessage) []slack.MsgOption {
	opts := []slack.MsgOption{slack.MsgOptionText(msg.Text, false)}
	if msg.Blocks != nil {
		opts = append(opts, slack.MsgOptionBlocks(msg.Blocks.BlockSet...))
	}
	return opts
}

// Slack's Web API error codes that speak of the message (it is terminated
// alone) or of a message to update that is gone (the card is opened anew).
// Every other error code speaks of the destination (channel_not_found,
// not_in_channel, is_archived, invalid_auth, token_revoked, missing_scope,
// ...): the destination is dead.
var (
	botMessageCodes = map[string]bool{
		"invalid_blocks": true, "invalid_blocks_format": true, "msg_too_long": true, "no_text": true,
		"too_many_attachments": true, "invalid_metadata_format": true, "invalid_metadata_schema": true,
		"metadata_too_large": true, "metadata_must_be_sent_from_app": true, "invalid_arguments": true,
	}
	// botGoneCodes say the message to update is not there any more
	// (deleted by someone): the card is opened anew.
	// thread_not_found: the parent a card was to be posted under is gone.
	botGoneCodes = map[string]bool{"message_not_found": true, "cant_update_message": true, "edit_window_closed": true, "thread_not_found": true}
	// botBusyCodes are Slack's own trouble: tried again like a 5xx.
	botBusyCodes = map[string]bool{"internal_error": true, "fatal_error": true, "service_unavailable": true, "request_timeout": true}
)

// ErrMessageGone is a chat.update (or a reply under a parent) of a message that no longer exists.
var ErrMessageGone = errors.New("message to update is gone")

// botError sorts a Web API failure into the Sender taxonomy: a 429 is a
// *slack.RateLimitedError (slack-go's, with Retry-After; ours with
// defaultRetryAfter when the header is missing), a code about the
// destination wraps ErrDeadDestination, one about the message
// ErrPermanent; Slack's own trouble (5xx, internal_error) and transport
// failures stay plain, to be tried again, and are "ambiguous": Slack may
// have taken the post. An unknown code is taken as the destination's
// (erring towards holding the events, not discarding them). Error texts
// hold Slack's code, never the token, which travels in the request body.
func botError(method string, err error) error {
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var se slack.SlackErrorResponse
	switch {
	case errors.As(err, &rl):
		return fmt.Errorf("slack %s: %w", method, err)
	case errors.As(err, &sc) && sc.Code == http.StatusTooManyRequests:
		return fmt.Errorf("slack %s: HTTP 429: %w", method, &slack.RateLimitedError{RetryAfter: defaultRetryAfter})
	case errors.As(err, &sc):
		return &ambiguousError{err: fmt.Errorf("slack %s: HTTP %d", method, sc.Code)}
	case errors.As(err, &se):
		code := se.Err
		switch {
		case code == "ratelimited":
			return fmt.Errorf("slack %s: %s: %w", method, code, &slack.RateLimitedError{RetryAfter: defaultRetryAfter})
		case botMessageCodes[code]:
			return fmt.Errorf("slack %s: %s: %w", method, code, ErrPermanent)
		case botGoneCodes[code]:
			return fmt.Errorf("slack %s: %s: %w", method, code, ErrMessageGone)
		case botBusyCodes[code]:
			return &ambiguousError{err: fmt.Errorf("slack %s: %s", method, code)}
		}
		return fmt.Errorf("slack %s: %s: %w", method, code, ErrDeadDestination)
	}
	return &ambiguousError{err: fmt.Errorf("slack %s: %w", method, err)}
}

// ambiguousError is a failure after which Slack may or may not have taken
// the post (a timeout, a reset connection, a 5xx): before posting it again
// the sender looks for it (Bot.Find).
type ambiguousError struct{ err error }

func (e *ambiguousError) Error() string { return e.err.Error() }
func (e *ambiguousError) Unwrap() error { return e.err }

// Ambiguous says whether Slack may have taken the post that failed with
// err (see ambiguousError).
func Ambiguous(err error) bool {
	var a *ambiguousError
	return errors.As(err, &a)
}
