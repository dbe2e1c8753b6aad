package poller

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// TestJournalFile: the bound per task, a line cut short by a crash, and a
// journal whose writer did not hold the lease last.
func TestJournalFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal", "p.jsonl")
	j := openJournal(JournalOptions{Path: path, Holder: "a"}, "p", zerolog.Nop())
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range journalPerTask {
		if !j.add(observation{At: t0.Add(time.Duration(i) * time.Second), Task: dcs.Task{ID: "t1", Status: "RUNNING"}}) {
			t.Fatalf("observation %d refused under the bound", i)
		}
	}
	if j.add(observation{At: t0, Task: dcs.Task{ID: "t1"}}) {
		t.Fatalf("observation %d kept past the per-task bound %d", journalPerTask+1, journalPerTask)
	}
	if !j.add(observation{At: t0, Task: dcs.Task{ID: "t2"}}) {
		t.Fatal("another task's observation refused")
	}
	j.replayed() // the first one is committed
	// A crash in the middle of a line.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"observation":{"project":"p","obs`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	again := openJournal(JournalOptions{Path: path, Holder: "b", Accept: func(w string) bool { return w == "a" }}, "p", zerolog.Nop())
	if n := again.pending(); n != journalPerTask {
		t.Fatalf("reopened: %d pending, want %d (64 + 1 - 1 replayed)", n, journalPerTask)
	}
	if ob, _ := again.next(); !ob.At.Equal(t0.Add(time.Second)) {
		t.Fatalf("reopened: next observation at %s, want the second one", ob.At)
	}

	refused := openJournal(JournalOptions{Path: path, Holder: "c", Accept: func(w string) bool { return w == "a" }}, "p", zerolog.Nop())
	if n := refused.pending(); n != 0 {
		t.Fatalf("a journal rewritten by b was accepted for a's: %d pending", n)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a refused journal's file is still there: %v", err)
	}
}
