package state_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/state"
)

// A bucket deleted under a running watcher is recreated at the next write,
// refilled with every snapshot held in memory (so no task is seen as new
// by this watcher or the next one), and reported once, however many
// writers meet the missing bucket at the same time.
func TestPutRecreatesADeletedBucket(t *testing.T) {
	newJS := startJS(t)
	js, admin := newJS(), newJS()
	var mu sync.Mutex
	var reports []string
	s, err := state.Open(ctxT(t), js, state.BucketOptions{Bucket: bucket,
		OnRecreate: func(_ context.Context, what string, cause error) {
			mu.Lock()
			defer mu.Unlock()
			reports = append(reports, what+": "+cause.Error())
		}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	rec := func(i int, status string) state.Record {
		r := record(status)
		r.Task.ID = fmt.Sprintf("task-%02d", i)
		return r
	}
	for i := range n {
		if err := s.Put(ctxT(t), "p", rec(i, "FULLMIGRATING").Task.ID, rec(i, "FULLMIGRATING")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctxT(t), "p", rec(0, "INCRMIGEATING").Task.ID, rec(0, "INCRMIGEATING")); err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteKeyValue(ctxT(t), bucket); err != nil {
		t.Fatalf("delete bucket: %v", err)
	}

	// Every task changes at once, from as many writers as the poller runs.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.Put(ctxT(t), "p", rec(i, "FAILED").Task.ID, rec(i, "FAILED")) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("put %d after the bucket was deleted: %v", i, err)
		}
	}
	mu.Lock()
	got := append([]string(nil), reports...)
	mu.Unlock()
	if len(got) != 1 || !strings.Contains(got[0], "kv bucket "+bucket) || !strings.Contains(got[0], "no response from stream") {
		t.Fatalf("reports = %q, want one naming the bucket and the cause", got)
	}

	// A fresh watcher on the recreated bucket sees every task, at its
	// latest status, with revisions it can write on.
	s2 := open(t, newJS(), nil)
	if s2.Len() != n {
		t.Fatalf("recreated bucket holds %d records, want %d", s2.Len(), n)
	}
	for i := range n {
		e, ok := s2.Get("p", rec(i, "").Task.ID)
		if !ok || status(e.Record) != "FAILED" {
			t.Errorf("task %d in the recreated bucket: %v %q, want FAILED", i, ok, status(e.Record))
		}
		if c, _ := s.Get("p", rec(i, "").Task.ID); c.Revision != e.Revision {
			t.Errorf("task %d: cached revision %d, bucket's %d", i, c.Revision, e.Revision)
		}
	}
	if err := s.Put(ctxT(t), "p", "task-03", rec(3, string(dcs.StatusRunning))); err != nil {
		t.Fatalf("put after the recovery: %v", err)
	}
}
