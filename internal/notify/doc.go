// Package notify turns diff events into CloudEvents 1.0 envelopes, of the
// types of the public package event so that consumers decode them as they
// were built, and publishes them to a JetStream stream, each with
// Nats-Msg-Id set to the event's deterministic id so that JetStream drops a
// re-published change. The stream is what every consumer reads: the Slack
// notifier (subpackage delivery) and any downstream program.
package notify
