package poller

import (
	"testing"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// TestReleaseKeepsRowsOfFetchedOnly: once a cycle's targets are known,
// the listed map holds the row of a task with a detail call (its answer
// is diffed with the row) and of every other task only its status and
// name, so the rows the cycle is done with can go.
func TestReleaseKeepsRowsOfFetchedOnly(t *testing.T) {
	a := &dcs.Task{ID: "a", Name: "alpha", Status: "MIGRATING"}
	b := &dcs.Task{ID: "b", Name: "beta", Status: "SUCCESS"}
	tg := targets{
		listed: map[string]listing{"a": {row: a}, "b": {row: b}},
		fetch:  []string{"a", "configured-not-listed"},
	}
	tg.release()
	if l := tg.listed["a"]; l.row != a || l.status != "MIGRATING" || l.name != "alpha" {
		t.Errorf("fetched task: %+v, want its row kept", l)
	}
	if l := tg.listed["b"]; l.row != nil || l.status != "SUCCESS" || l.name != "beta" {
		t.Errorf("task without a detail call: %+v, want status and name only", l)
	}
	if len(tg.listed) != 2 {
		t.Errorf("listed has %d tasks, want 2 (release adds none)", len(tg.listed))
	}
}
