// Package slack posts the watcher's events to Slack. It is a durable
// JetStream consumer of the same stream of CloudEvents envelopes that
// downstream programs read: Notifier takes one envelope at a time in stream
// order, renders it as a Block Kit message (Render), hands it to a Sender
// (an incoming webhook, or the console in demo mode), records the event id
// in a KV bucket once Slack has accepted it, and only then acks. So a Slack
// outage or a restart delays messages but loses none, a redelivery after a
// crash between send and ack is recognised by its mark and not posted twice,
// a 429 is honoured with the server's Retry-After, and a message Slack
// rejects for good is terminated instead of blocking the ones behind it.
// The webhook URL is a config.Secret and never reaches a log line or an
// error text.
package slack
