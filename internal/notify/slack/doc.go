// Package slack posts the watcher's events to Slack. It is a durable
// JetStream consumer of the same stream of CloudEvents envelopes that
// downstream programs read: Notifier pulls a batch of envelopes in stream
// order, renders them as Block Kit messages (Render, RenderGroup), hands
// each message to a Sender (an incoming webhook, or the console in demo
// mode), records the event ids in a KV bucket once Slack has accepted the
// message, and only then acks those events. So a Slack outage or a restart
// delays messages but loses none, a redelivery after a crash between send
// and ack is recognised by its mark and not posted twice, a 429 is honoured
// with the server's Retry-After, and a message Slack rejects for good is
// terminated instead of blocking the ones behind it. The webhook URL is a
// secret.Secret and never reaches a log line or an error text.
//
// Pacing: messages go out at most Options.Rate per second (an incoming
// webhook accepts about one per second per channel), and each waits one
// interval after Slack's answer to the previous one, so that network
// jitter cannot bring two in too close; a 429 holds every send back for its
// Retry-After.
//
// Grouping of bursts: the Notifier waits for an event, then, once the
// pacer would let a message go, pulls the events already waiting behind
// it, up to Options.GroupMax in all (a quiet spell's first event is not
// delayed; during a burst the events that arrive in one pacing interval
// gather). In that batch, events of kinds that are not posted, and events
// already delivered, are acked and left out. The rest are walked in stream
// order and sorted into groups by key: the kind and, for status_changed
// (and discovered, changed, task_status_changed), the new normalised
// status. For removed, watch_degraded and watch_recovered the kind alone
// is the key: their status is only the last one seen, and one cause (a
// bulk clean-up, an API outage, expired credentials) hits tasks in every
// status, so one incident makes one message. An event joins the last
// group opened for its key unless its task's previous event in the batch
// is in a later group; then it opens a new group. Groups go out in the
// order they were opened, each listing its events in stream order, so each
// task's events reach Slack in the order they happened (the order between
// tasks of one batch, mostly one poll cycle's list order, is not kept). A
// group of at least Options.GroupMin events becomes a grouped message
// (":x: 25 migration tasks -> FAILED", one line per task: name, id,
// FROM -> TO, the failure reason shortened), split in order into parts of
// at most 50 tasks and 12,000 characters when it does not fit one; any
// other event is a message of its own. Each event is in exactly one
// message. An event is marked and acked once Slack accepted its message; a
// failed send is retried, with backoff, before anything behind it, and a
// grouped message Slack refuses for good is posted event by event instead.
//
// Several replicas may share the durable consumer. Each holds at most
// GroupMax events unacked (MaxAckPending) and tells JetStream every
// AckWait/3 that it is still working on them, so pacing does not get them
// redelivered; if a replica dies its events are redelivered after AckWait.
// Two replicas can hold two batches at once: then a task's events in the
// two batches can reach Slack out of order, and each replica keeps its own
// pace. Run Slack delivery in one replica where that matters.
package slack
