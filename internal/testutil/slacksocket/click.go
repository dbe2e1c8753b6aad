package slacksocket

import (
	"encoding/json"
	"fmt"
	"time"
)

// Click is a button pressed on a message: who pressed it, the button
// (action_id, value, block_id) and the message it is on (channel and ts,
// with the message's text and blocks as Slack sends them along).
type Click struct {
	User     string // U…
	UserName string
	ActionID string
	Value    string
	BlockID  string
	Channel  string // C…
	// MessageTS is the message's ts; ThreadTS its thread's, if it is a
	// reply.
	MessageTS string
	ThreadTS  string
	Text      string
	Blocks    json.RawMessage
}

// Payload is the block_actions payload Slack sends for c, in the shape
// of https://api.slack.com/reference/interaction-payloads/block-actions.
func (c Click) Payload() map[string]any {
	now := time.Now()
	actionTS := fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
	msg := map[string]any{"type": "message", "ts": c.MessageTS, "text": c.Text, "user": "U0WATCHERBOT", "bot_id": "B0WATCHER"}
	if c.ThreadTS != "" {
		msg["thread_ts"] = c.ThreadTS
	}
	if len(c.Blocks) > 0 {
		msg["blocks"] = c.Blocks
	}
	return map[string]any{
		"type":       "block_actions",
		"api_app_id": "A0WATCHER",
		"token":      "legacy-verification-token",
		"trigger_id": "1234." + actionTS,
		"team":       map[string]any{"id": "T0TEAM", "domain": "example"},
		"user":       map[string]any{"id": c.User, "username": c.UserName, "name": c.UserName, "team_id": "T0TEAM"},
		"container": map[string]any{
			"type": "message", "message_ts": c.MessageTS, "channel_id": c.Channel,
			"is_ephemeral": false, "thread_ts": c.ThreadTS,
		},
		"channel":      map[string]any{"id": c.Channel, "name": "oncall"},
		"message":      msg,
		"response_url": "https://hooks.slack.invalid/actions/T0TEAM/1/fake",
		"actions": []map[string]any{{
			"type":      "button",
			"action_id": c.ActionID,
			"block_id":  c.BlockID,
			"value":     c.Value,
			"text":      map[string]any{"type": "plain_text", "text": c.ActionID, "emoji": true},
			"action_ts": actionTS,
		}},
	}
}

// Click pushes c as an interactive envelope on the newest connection and
// returns its envelope id.
func (s *Server) Click(c Click) (string, error) { return s.ClickOn(-1, c) }

// ClickOn is Click on the n-th live connection (0: the oldest).
func (s *Server) ClickOn(n int, c Click) (string, error) {
	return s.PushOn(n, "interactive", c.Payload())
}
