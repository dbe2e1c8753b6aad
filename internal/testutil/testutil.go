// Package testutil holds helpers shared by the tests: an embedded JetStream
// server, an injectable clock, a log sink safe for concurrent writers, and
// waiting on a condition with a deadline.
//
// It is meant for _test.go files only.
package testutil

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natstest "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RunJetStream runs an embedded nats-server with JetStream on port (-1 for a
// random one), keeping its data in storeDir. Each edit that is not nil
// adjusts the options before the server starts. The server is shut down when the test
// ends; a test may also shut it down itself, as Shutdown is idempotent.
func RunJetStream(t testing.TB, port int, storeDir string, edit ...func(*server.Options)) *server.Server {
	t.Helper()
	opts := natstest.DefaultTestOptions
	opts.Port = port
	opts.JetStream = true
	opts.StoreDir = storeDir
	for _, e := range edit {
		if e != nil {
			e(&opts)
		}
	}
	srv := natstest.RunServer(&opts)
	t.Cleanup(srv.Shutdown)
	return srv
}

// Connect opens a connection of its own to url and a JetStream context on
// it; the connection is closed when the test ends.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Clock is a hand-driven clock to inject as a Now func; it is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock set to t0.
func NewClock(t0 time.Time) *Clock { return &Clock{now: t0} }

// Now returns the time the clock is set to.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// SyncBuffer is an io.Writer that collects output written from several
// goroutines, such as a logger's, without upsetting the race detector.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// EventuallyTimeout is how long Eventually waits.
const EventuallyTimeout = 15 * time.Second

// pollEvery is how often the Eventually helpers check their condition.
const pollEvery = 10 * time.Millisecond

// Eventually polls cond until it holds, and fails the test if it does not
// within EventuallyTimeout.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !poll(EventuallyTimeout, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// EventuallyWithin is Eventually with a deadline of its own, for tests that
// hold a condition to a tighter bound.
func EventuallyWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(d, cond) {
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

// poll reports whether cond held before d passed.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
	return true
}

// Context is the test's context with a deadline of d, so that a call that
// hangs fails the test instead of stalling the run.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// WriteFile writes body to a file called name in a fresh directory of the
// test's and returns its path.
func WriteFile(t testing.TB, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
