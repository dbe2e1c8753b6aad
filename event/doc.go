// Package event is the contract between the DCS migration-task watcher and
// the programs downstream of it: the events it publishes, the subjects it
// publishes them on, and how to read them. The watcher builds its events
// with these very types, so what it encodes is what Decode reads.
//
// # Stream and subjects
//
// Every event is a message of one JetStream stream, DCS_MIGRATION
// (DefaultStream), over "<prefix>.>" (DefaultPrefix "dcs.migration", the
// watcher's nats.subject_prefix). Its subject names what it is about, one
// token each:
//
//	<prefix>.<project_id>.<task_id>.<kind>.<STATUS>.<outcome>
//
// A consumer chooses what it reads with a subject filter: Subject with the
// fields you care about set and the others left empty, which Filter turns
// into '*'. Subject{Outcome: OutcomeFailed}.Filter() is every event about
// a failed task, however the API spells the failure; Subject{Kind:
// StatusChanged, Outcome: OutcomeFailed} only the moments tasks fail.
// Events about no task carry NoTask ("_api", the API as a whole),
// SlackTask or StoreTask (the watcher's Slack delivery and store) as their
// task token.
//
// One subject is outside that grammar: every replica of the watcher
// publishes a Heartbeat event every heartbeat.every on HeartbeatSubject,
// "<prefix>._watcher.heartbeat" (Data.Heartbeat: its version, the replicas
// alive, the projects it polls and their last successful cycle), so that a
// monitor can alert on their absence. A filter of five tokens after the
// prefix never sees it; "<prefix>.>" does.
//
// # Reading
//
// Use a durable pull consumer (nats.go's jetstream package) with explicit
// acks, so that what you have not acked comes again after a crash and
// what you have acked does not; examples/consumer in the watcher's
// repository is a complete one. For each message:
//
//   - Decode its body. A body Decode refuses (ErrMalformed, ErrVersion)
//     will not get better: Term the message (or park it) instead of
//     leaving it to be redelivered forever.
//   - Dedupe by Envelope.ID. Ids are deterministic: the same change told
//     twice has the same id, and a real repeat (A -> B -> A -> B) a new
//     one. JetStream drops a change the watcher publishes again within the
//     stream's duplicate window (24 h by default), but a message you did
//     not ack in time is delivered to you again: a consumer whose handling
//     must happen once keeps the ids it has handled.
//   - Handle it, then Ack. Events of one task are in stream order;
//     events of different tasks interleave.
//
// Switch on Data.Kind and Data.Outcome with a default branch: a newer
// watcher may send a kind, status or outcome this version does not know.
// Data.Summary words an event in one line ("orders-move: RUNNING ->
// FAILED").
//
// # Who may read
//
// The watcher's embedded NATS admits no anonymous client. It generates a
// read-only user, "reader", in <data_dir>/nats/ (reader.password, and
// reader.env or reader.context.json for the nats CLI): it may read the
// stream and create, pull from and ack its own consumers, nothing more.
// With an external NATS, that deployment's users or credentials file
// decide.
//
// # Versions
//
// The schema is versioned by the last token of Envelope.Type (Version,
// "v1"); docs/event.schema.json is its JSON Schema and docs/asyncapi.yaml
// its AsyncAPI document. Within one version, and so without a new type,
// the watcher may add:
//
//   - an optional field anywhere in Data (Decode ignores what it does not
//     know, so an older consumer keeps working);
//   - a new value of an open field: a status, a reason, a gap, a log tail
//     error class, a scope, an attention condition;
//   - a new kind, on subjects of its own (its own <kind> token and type),
//     so that a filter naming the kinds it handles never sees it;
//   - new CloudEvents extension attributes at the top level.
//
// A new version ("v2") comes with
// removing or renaming a field, making an optional field required,
// changing a field's type or meaning (what Outcome says, the unit of a
// figure, what an id hashes), removing a kind or an enum value, or
// changing the subject grammar. Decode refuses a type of another version
// with ErrVersion rather than read it wrong.
package event
