package poller

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// The journal keeps, in order, what this poller observed and could not
// commit because the store did not take the write (NATS away, a timeout,
// JetStream out of resources): the task as observed and when. A cycle
// replays it through the outbox before it diffs anything new (replay.go),
// so a status that began and ended while the store was unreachable is
// still published, late, marked delayed.
//
// It is an append-only file of JSON lines, each written with fsync: a
// header naming its writer, the observations, and after each one replayed
// a marker counting the observations replayed so far, so that a crash in
// the middle of a replay starts again after the last one committed (the
// one whose marker a crash beat is found already stored: it makes no
// event). A file that cannot be written (a full disk) leaves the journal
// in memory, which the log says is not crash-safe.

// JournalOptions configures the journal of observations a cycle could not
// commit.
type JournalOptions struct {
	// Path is the journal file; "" keeps the journal in memory only.
	Path string
	// Holder names the writer in the file: the lease holder's identity
	// ("" without leases).
	Holder string
	// Accept says whether the observations a writer left in the file may
	// be replayed (nobody else led the project since); nil accepts all.
	// Refused observations are dropped with an error line.
	Accept func(writer string) bool
}

// Bounds of the journal: past them an observation is not kept (a warning
// says so, once per task and outage) and the task's next change after the
// outage is marked may_have_skipped.
const (
	journalPerTask = 64
	journalMax     = 4096
)

// gapDropped is the gap of a change whose task had observations the full
// journal could not keep.
const gapDropped = "observations dropped during a store outage"

// observation is one journaled detail answer, completed as the cycle
// completes it (list row, null fields, spelling).
type observation struct {
	Project string    `json:"project"`
	At      time.Time `json:"observed_at"`
	Task    dcs.Task  `json:"snapshot"`
	// Gap is the gap the change would have had if committed at once.
	Gap string `json:"gap,omitempty"`
}

// journalLine is one line of the file: exactly one field is set.
type journalLine struct {
	Writer *string      `json:"writer,omitempty"`
	Obs    *observation `json:"observation,omitempty"`
	Done   int          `json:"replayed,omitempty"`
}

type journal struct {
	o       JournalOptions
	project string
	log     zerolog.Logger

	mu      sync.Mutex
	obs     []observation
	done    int            // obs[:done] are replayed
	last    map[string]int // index in obs of each task's last observation
	count   map[string]int
	dropped map[string]int // observations not kept, by task
	f       *os.File       // nil until the first write, or after a failed one
	broken  bool           // the file failed: memory only until the journal empties
}

func openJournal(o JournalOptions, project string, log zerolog.Logger) *journal {
	j := &journal{o: o, project: project, log: log.With().Str("journal", o.Path).Logger()}
	j.reset()
	if o.Path == "" {
		return j
	}
	writer, obs, done, err := readJournal(o.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return j
	case err != nil:
		j.log.Error().Err(err).Msg("journal unreadable: its observations are not published")
		j.remove()
		return j
	}
	pending := obs[min(done, len(obs)):]
	if len(pending) > 0 && o.Accept != nil && !o.Accept(writer) {
		j.log.Error().Str("writer", writer).Int("dropped", len(pending)).
			Msg("journal of a lease holder another replica succeeded: its observations are dropped, the new leader's snapshots stand")
		j.remove()
		return j
	}
	if len(pending) == 0 {
		j.remove()
		return j
	}
	for _, ob := range pending {
		j.remember(ob)
	}
	j.log.Warn().Int("observations", len(pending)).Str("writer", writer).
		Msg("journal left by an earlier run: replayed when the store answers")
	// Later lines go to a new file holding only what is still owed.
	j.remove()
	j.rewrite()
	return j
}

// readJournal reads a journal file: its writer, its observations and how
// many were replayed. A last line cut short (a crash mid-write) is ignored.
func readJournal(path string) (writer string, obs []observation, done int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, 0, fmt.Errorf("read journal: %w", err)
	}
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var jl journalLine
		if err := json.Unmarshal(l, &jl); err != nil {
			if i == len(lines)-1 {
				break // cut short by a crash
			}
			return "", nil, 0, fmt.Errorf("journal %s line %d: %w", path, i+1, err)
		}
		switch {
		case jl.Writer != nil:
			writer = *jl.Writer
		case jl.Obs != nil:
			obs = append(obs, *jl.Obs)
		case jl.Done > 0:
			done = jl.Done
		}
	}
	return writer, obs, done, nil
}

func (j *journal) reset() {
	j.obs, j.done = nil, 0
	j.last, j.count, j.dropped = map[string]int{}, map[string]int{}, map[string]int{}
}

func (j *journal) remember(ob observation) {
	j.last[ob.Task.ID] = len(j.obs)
	j.count[ob.Task.ID]++
	j.obs = append(j.obs, ob)
}

// pending is how many observations wait for the replay.
func (j *journal) pending() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.obs) - j.done
}

// latest is the task's last journaled observation, nil when none.
func (j *journal) latest(task string) *dcs.Task {
	j.mu.Lock()
	defer j.mu.Unlock()
	i, ok := j.last[task]
	if !ok {
		return nil
	}
	t := j.obs[i].Task
	return &t
}

// add keeps an observation, on disk when it can; false when a bound is
// reached and the observation is dropped.
func (j *journal) add(ob observation) bool {
	ob.Project = j.project
	j.mu.Lock()
	defer j.mu.Unlock()
	id := ob.Task.ID
	if j.count[id] >= journalPerTask || len(j.obs)-j.done >= journalMax {
		if j.dropped[id] == 0 {
			j.log.Warn().Str("task_id", id).Int("per_task", journalPerTask).Int("max", journalMax).
				Msg("journal full: this task's further observations are not kept; its next change after the outage is marked may_have_skipped")
		}
		j.dropped[id]++
		return false
	}
	j.remember(ob)
	j.write(journalLine{Obs: &ob})
	return true
}

// next is the first observation not replayed yet.
func (j *journal) next() (observation, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.done >= len(j.obs) {
		return observation{}, false
	}
	return j.obs[j.done], true
}

// replayed records that next's observation is committed.
func (j *journal) replayed() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.done++
	j.write(journalLine{Done: j.done})
}

// finish empties a journal replayed to its end and returns the tasks whose
// observations it could not keep.
func (j *journal) finish() map[string]int {
	j.mu.Lock()
	defer j.mu.Unlock()
	dropped := j.dropped
	j.reset()
	j.remove()
	return dropped
}

// write appends a line and syncs it; on failure the journal goes on in
// memory and the file is removed, so that no replay ever starts from a
// file that lacks the end of the journal.
func (j *journal) write(l journalLine) {
	if j.o.Path == "" || j.broken {
		return
	}
	err := j.append(l)
	if err == nil {
		return
	}
	j.broken = true
	j.remove()
	j.log.Error().Err(err).Int("observations", len(j.obs)-j.done).
		Msg("journal cannot be written: kept in memory, NOT crash-safe (a crash now loses what it holds)")
}

func (j *journal) append(l journalLine) error {
	if j.f == nil {
		if err := os.MkdirAll(filepath.Dir(j.o.Path), 0o700); err != nil {
			return fmt.Errorf("create journal directory: %w", err)
		}
		f, err := os.OpenFile(j.o.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("open journal: %w", err)
		}
		j.f = f
		w := j.o.Holder
		if err := j.line(journalLine{Writer: &w}); err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(j.o.Path)); err != nil {
			return err
		}
	}
	return j.line(l)
}

func (j *journal) line(l journalLine) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode journal line: %w", err)
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync journal: %w", err)
	}
	return nil
}

// rewrite writes the observations still owed to a new file.
func (j *journal) rewrite() {
	for _, ob := range j.obs[j.done:] {
		j.write(journalLine{Obs: &ob})
	}
}

// remove closes and deletes the file; the next write starts a new one (a
// broken journal stays in memory until it is empty).
func (j *journal) remove() {
	if j.f != nil {
		_ = j.f.Close()
		j.f = nil
	}
	if j.o.Path == "" {
		return
	}
	if err := os.Remove(j.o.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		j.log.Error().Err(err).Msg("journal file not removed")
	}
	if len(j.obs) == j.done {
		j.broken = false
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open journal directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync journal directory: %w", err)
	}
	return nil
}
