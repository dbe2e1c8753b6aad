// Package statuspage serves the watcher's read-only status page: every
// watched task with its status, phase, time in status, progress and last
// change (GET /), a page per task with its phase timeline drawn as an SVG
// and its recent events (GET /tasks/{project}/{id}), the same data as JSON
// (/api/tasks, /api/tasks/{project}/{id}) and server-sent events that let
// the pages update themselves (/events).
//
// Everything it shows comes from NATS, never from the leader's memory: a
// Model watches the snapshot KV bucket (initial values, then updates) and
// reads the events stream with an ordered consumer from a bounded start
// (History back) on, so any replica serves the same page. The snapshots are
// stored with their passwords already dropped; the model keeps names and
// addresses only. A Page serves whichever Model it was last given (Use), so
// that it outlives the app it reads from across reloads.
package statuspage
