// Package delivery posts the watcher's events to Slack: a durable JetStream
// consumer of the events stream that has them rendered (package slackmsg),
// paces and groups them, posts them through a Sender (an incoming webhook,
// or the console in demo mode) and acks an event only once Slack has
// accepted it and its delivery is marked in KV; a message Slack refuses is
// terminated alone, while a dead destination (a revoked webhook, an
// archived channel) holds every event in stream order, probes, and is
// announced once by watch_degraded / watch_recovered events of scope slack.
// In bot-token mode (Bot) a destination is a channel where each task has
// a live status card, updated in place, with its transitions as thread
// replies, and every post carries metadata that a retry looks up before
// posting again. The engine (lane, session) never asks which: it asks the
// lane's destination (a webhookDest or a channelDest) what to post and to
// post it. The design, in full, is docs/slack-delivery.md.
package delivery
