package testutil_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestRunJetStreamShutdownTwice: a test may shut the server down itself
// before the cleanup does it again.
func TestRunJetStreamShutdownTwice(t *testing.T) {
	srv := testutil.RunJetStream(t, -1, t.TempDir())
	nc, js := testutil.Connect(t, srv.ClientURL())
	if !nc.IsConnected() || js == nil {
		t.Fatal("not connected")
	}
	if !srv.JetStreamEnabled() {
		t.Fatal("JetStream not enabled")
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	srv.Shutdown()
}

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	c := testutil.NewClock(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("Now = %v, want %v", got, t0)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { c.Set(t0.Add(time.Duration(i) * time.Second)); _ = c.Now() })
	}
	wg.Wait()
	c.Set(t0.Add(time.Minute))
	if got := c.Now(); !got.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Now = %v after Set, want %v", got, t0.Add(time.Minute))
	}
}

func TestSyncBuffer(t *testing.T) {
	var b testutil.SyncBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&b, "%d\n", i) })
	}
	wg.Wait()
	if n := len(b.String()); n != 16 {
		t.Fatalf("%d bytes written, want 16", n)
	}
}

func TestEventually(t *testing.T) {
	n := 0
	testutil.Eventually(t, "three polls", func() bool { n++; return n == 3 })
	testutil.EventuallyWithin(t, time.Second, "at once", func() bool { return true })
}
