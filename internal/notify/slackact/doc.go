// Package slackact answers the buttons of the watcher's Slack cards
// (bot mode): a Socket Mode client (slack-go's socketmode, with the app's
// app-level token, so no public endpoint is needed) receives each click
// as an interactive envelope, acks it at once, before any work (Slack
// wants the ack within 3 seconds, even while NATS or the Web API is
// slow), and then acts: Acknowledge records who and when for the task's
// open incident, Silence 2h has the silence store (a Silencer) silence
// the task, Show log posts the task's log tail in the card's thread. Each
// action is claimed in a KV bucket first (create-if-absent, or a
// compare-and-swap over an older incident's record), so a double click,
// or the same click handled by two replicas, does one thing. Optionally
// only members of configured user groups may act; anyone else's click is
// acked and answered with an ephemeral "not allowed". The card is redrawn
// by its owner, the Slack delivery (a Redrawer), which reads what the
// card shows of the clicks from this package's Store.
package slackact
