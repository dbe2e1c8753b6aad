// Package silence holds what keeps events from Slack for a while without
// keeping them from the stream: silences (watcher silence add), kept in a
// JetStream KV bucket of their own with a per-key expiry, and maintenance
// windows (slack.mute_windows), a silence on a cron schedule. The poller
// asks a Set, from memory, whether an event it publishes is silenced and
// marks it (data.silenced); the Slack notifier skips a marked event and
// tells a Tracker, which remembers per silence and task the last event it
// hid, so that when the silence ends each task still failing is posted
// once (Due, Done) however many replicas ask.
package silence
