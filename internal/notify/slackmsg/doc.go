// Package slackmsg writes the watcher's Slack messages, and only writes
// them: an event's message (Render), a burst's grouped messages
// (RenderGroup), a task's live status card and its thread replies (Card,
// RenderCard, RenderReply), each from its templates (package msgtmpl)
// with a destination's mentions, escaped and cut to Block Kit's limits.
// It posts nothing, holds no state and reads no clock: the delivery
// (package slack) decides what to send where, and sends it. It is named
// apart from slack-go's package slack, which it builds messages of.
package slackmsg
