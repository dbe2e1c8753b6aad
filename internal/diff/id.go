package diff

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strconv"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// idScheme is hashed first so that a future change of what goes into an id
// can be told apart from this one.
const idScheme = "dcs-watcher/event-id/v1"

// eventID is the deterministic ID of an event (invariant 2, "Nothing
// doubled"): the first 32 hex digits of SHA-256 over the task id, kind,
// scope, canonical JSON of prev and curr, and for watch_* events the error
// class and the episode number seq (empty and 0 for other kinds). Each part
// is prefixed with its length, so no two different inputs hash the same
// bytes. No time and nothing random goes in, nor the reason text of a
// watch_* event (it may hold request ids that vary from call to call).
//
// So the same change detected twice (after a crash before the snapshot
// advanced) has the same ID and JetStream drops the second publish. A task
// that goes A -> B -> A -> B gets distinct IDs for its two A -> B changes
// whenever the snapshots differ, which they normally do because updated_at
// moves; byte-identical snapshots would share an ID and the second change
// would be dropped inside the duplicate window, which we accept.
//
// prevJSON and currJSON are canonicalJSON of the snapshots.
func eventID(kind Kind, taskID, scope string, prevJSON, currJSON []byte, class string, seq uint64) string {
	return digest([]byte(idScheme), []byte(taskID), []byte(kind), []byte(scope),
		prevJSON, currJSON, []byte(class), strconv.AppendUint(nil, seq, 10))
}

// digest is the first 32 hex digits of SHA-256 over parts, each prefixed
// with its length, so that no two different lists of parts hash the same
// bytes.
func digest(parts ...[]byte) string {
	h := sha256.New()
	var n [8]byte
	for _, part := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// stampScheme is hashed first into a stamped id (At).
const stampScheme = "dcs-watcher/event-id/v2"

// At returns e with its final id: a hash of the project, the KV revision of
// the snapshot the change was diffed against (0 when there was none) and
// e's content id (task, kind, scope, both snapshots, class and episode).
//
// The revision is what tells a genuine repeat from a re-detection: a task
// that goes A -> B -> A -> B is diffed against a later revision the second
// time, so its second A -> B gets a new id even when both snapshots are
// byte-identical, while the same change detected again after a crash is
// diffed against the same revision and gets the same id, which JetStream
// drops. The project keeps two projects' events apart on a shared stream
// (their API-wide events have the same content).
func (e Event) At(project string, revision uint64) Event {
	e.ID = digest([]byte(stampScheme), []byte(project), strconv.AppendUint(nil, revision, 10), []byte(e.ID))
	return e
}

// canonicalJSON is the JSON object of t's non-empty fields; encoding/json
// writes map keys sorted, so equal content gives equal bytes. It is built
// from fields rather than from the struct so that the ID depends neither on
// the order of dcs.Task's fields nor on nil-versus-empty, and so that adding
// a string field to dcs.Task leaves the IDs of tasks that do not use it
// unchanged (a restart across an upgrade still deduplicates). Task strings come from a
// JSON decoder and are valid UTF-8, so the encoder's replacement of invalid
// bytes never merges two real snapshots.
func canonicalJSON(t *dcs.Task) []byte {
	if t == nil {
		return []byte("null")
	}
	m := fields(t)
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		// A map of strings always marshals; reaching this is a bug in the
		// standard library, not bad input.
		panic("diff: marshal fields: " + err.Error())
	}
	return b
}

// DerivedID is the id of an event made from another (id) for a reason of
// its own (why: "catch_up/<silence>"): deterministic, so that making it
// twice publishes it once, and never the id it comes from.
func DerivedID(id, why string) string {
	return digest([]byte("dcs-watcher/derived-id/v1"), []byte(id), []byte(why))
}
