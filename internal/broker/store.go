package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// A store write that fails (a full disk: ENOSPC) leaves the embedded
// server's stream with a sticky write error: nats-server refuses every
// later write to it, answering none (publishers time out), and freeing the
// space changes nothing until JetStream is restarted. The store watch
// finds that error in the server's own health check, says so once with the
// data directory's free space, and restarts JetStream in the same server
// (the same config, the same store: every stream, bucket and consumer
// comes back from disk, the clients' connection stays) once there is room
// again.

const (
	// storeCheckEvery is how often the watch reads the server's health.
	storeCheckEvery = time.Second
	// storeRoom is the free space in the data directory, and the probe
	// write that must succeed there, before JetStream is restarted.
	storeRoom = 1 << 20
	// DefaultStuckAfter is how long the store may keep failing once there
	// is room again before the broker calls it stuck (liveness fails):
	// a restart of JetStream takes milliseconds and is tried with backoff
	// up to every storeMaxBackoff, so two minutes are several failed tries.
	DefaultStuckAfter = 2 * time.Minute
	storeMaxBackoff   = 30 * time.Second
)

// storeWatch watches the embedded server's JetStream store and restarts
// JetStream when it stopped writing and there is room again.
type storeWatch struct {
	srv        *server.Server
	cfg        server.JetStreamConfig // to restart JetStream with
	dataDir    string
	stuckAfter time.Duration
	log        zerolog.Logger
	now        func() time.Time
	restart    func() error // restartJetStream; a test's may fail

	mu sync.Mutex
	h  storeHealth

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// storeHealth is what the watch knows of the store; zero: it writes.
type storeHealth struct {
	failing   bool
	cause     string    // the server's words
	since     time.Time // failing since
	free      uint64    // bytes free in the data directory at the last look
	roomSince time.Time // room again since (zero: no room)
	next      time.Time // no restart before
	backoff   time.Duration
	restarts  int    // restarts of JetStream that did not help
	lastTry   string // why the last one did not
	stuck     bool   // room for stuckAfter, still failing
}

func newStoreWatch(srv *server.Server, dataDir string, stuckAfter time.Duration, log zerolog.Logger) (*storeWatch, error) {
	jc := srv.JetStreamConfig()
	if jc == nil {
		return nil, errors.New("broker: embedded nats-server started without JetStream")
	}
	cfg := *jc
	// EnableJetStream appends its "jetstream" directory to the one it is
	// given, as the server's start did.
	cfg.StoreDir = filepath.Dir(jc.StoreDir)
	if stuckAfter <= 0 {
		stuckAfter = DefaultStuckAfter
	}
	w := &storeWatch{srv: srv, cfg: cfg, dataDir: dataDir, stuckAfter: stuckAfter,
		log: log.With().Str("component", "store").Logger(), now: time.Now,
		stop: make(chan struct{}), done: make(chan struct{})}
	w.restart = w.restartJetStream
	return w, nil
}

// run checks the store every storeCheckEvery until close.
func (w *storeWatch) run() {
	defer close(w.done)
	t := time.NewTicker(storeCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.check()
		}
	}
}

// close stops run and waits for it; a second close does nothing.
func (w *storeWatch) close() {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
}

// check reads the store's health and acts on a change: one error line when
// the store stops writing, a restart of JetStream once there is room, one
// line when it writes again or is declared stuck.
func (w *storeWatch) check() {
	cause := w.writeError()
	w.mu.Lock()
	h := w.h
	w.mu.Unlock()
	if !h.failing && cause == "" {
		return
	}
	now := w.now()
	free, ferr := freeBytes(w.dataDir)
	if !h.failing {
		h = storeHealth{failing: true, cause: cause, since: now, backoff: storeCheckEvery}
		w.log.Error().Str("data_dir", w.dataDir).Uint64("free_bytes", free).Str("free", sizeOf(free, ferr)).
			Str("cause", cause).Msg("JetStream store cannot write: events and snapshots are held until it can; " +
			"free space in the data directory and it recovers by itself")
	}
	if cause != "" {
		h.cause = cause
	}
	h.free = free
	switch room := ferr == nil && free >= storeRoom; {
	case !room:
		h.roomSince = time.Time{}
	case h.roomSince.IsZero():
		h.roomSince = now
		w.log.Info().Str("data_dir", w.dataDir).Str("free", sizeOf(free, nil)).Msg("room in the data directory again: restarting JetStream")
	}
	if !h.roomSince.IsZero() && !now.Before(h.next) {
		err := w.restart()
		if err == nil {
			if cause = w.writeError(); cause != "" {
				err = errors.New(cause)
			}
		}
		if err == nil {
			w.log.Warn().Str("data_dir", w.dataDir).Str("free", sizeOf(free, nil)).
				Dur("failed_for", now.Sub(h.since)).Int("restarts", h.restarts+1).
				Msg("JetStream store writes again: JetStream restarted on the same store")
			w.set(storeHealth{})
			return
		}
		h.restarts++
		h.lastTry = err.Error()
		h.next = now.Add(h.backoff)
		h.backoff = min(2*h.backoff, storeMaxBackoff)
		w.log.Error().Err(err).Str("data_dir", w.dataDir).Str("free", sizeOf(free, nil)).
			Dur("retry_in", h.next.Sub(now)).Msg("JetStream store still cannot write after a restart of JetStream")
	}
	if !h.stuck && !h.roomSince.IsZero() && now.Sub(h.roomSince) >= w.stuckAfter {
		h.stuck = true
		w.log.Error().Str("data_dir", w.dataDir).Str("free", sizeOf(free, nil)).Str("cause", h.cause).
			Str("last_restart", h.lastTry).Dur("room_for", now.Sub(h.roomSince)).Msg("JetStream store stuck: it does not write though there is room; /healthz fails so that the process is restarted")
	}
	w.set(h)
}

func (w *storeWatch) set(h storeHealth) {
	w.mu.Lock()
	w.h = h
	w.mu.Unlock()
}

// writeError is the server's word that the store does not write: a
// stream's write error, or JetStream off; "" when it writes.
func (w *storeWatch) writeError() string {
	if !w.srv.JetStreamEnabled() {
		return "JetStream is disabled"
	}
	var errs []string
	for _, e := range w.srv.Healthz(&server.HealthzOptions{Details: true}).Errors {
		switch {
		case e.Type == server.HealthzErrorJetStream:
			errs = append(errs, e.Error)
		case e.Type == server.HealthzErrorStream && strings.Contains(e.Error, "write error"):
			errs = append(errs, e.Error)
		}
	}
	return strings.Join(errs, "; ")
}

// restartJetStream restarts JetStream in the running server once a probe
// write in the data directory succeeds: the streams' sticky write errors
// go, and everything on disk is recovered.
func (w *storeWatch) restartJetStream() error {
	if err := probeWrite(w.dataDir, storeRoom); err != nil {
		return err
	}
	if err := w.srv.ShutdownJetStream(); err != nil {
		return fmt.Errorf("broker: stop JetStream: %w", err)
	}
	cfg := w.cfg
	if err := w.srv.EnableJetStream(&cfg); err != nil {
		return fmt.Errorf("broker: start JetStream again on %s: %w", w.cfg.StoreDir, err)
	}
	return nil
}

// err is the store's state for readiness: nil while it writes.
func (w *storeWatch) err() error {
	w.mu.Lock()
	h := w.h
	w.mu.Unlock()
	if !h.failing {
		return nil
	}
	return fmt.Errorf("JetStream store cannot write since %s (data directory %s, %s free): %s",
		h.since.UTC().Format(time.RFC3339), w.dataDir, sizeOf(h.free, nil), h.cause)
}

// stuckErr is the store's state for liveness: nil unless it is stuck.
func (w *storeWatch) stuckErr() error {
	w.mu.Lock()
	h := w.h
	w.mu.Unlock()
	if !h.stuck {
		return nil
	}
	return fmt.Errorf("JetStream store does not write though the data directory %s has had room (%s free) for %s: %s; %d restart(s) of JetStream did not help, the last: %s",
		w.dataDir, sizeOf(h.free, nil), w.now().Sub(h.roomSince).Round(time.Second), h.cause, h.restarts, h.lastTry)
}

// freeBytes is the space an unprivileged writer has in dir.
func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("broker: free space of %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// probeWrite writes n bytes to a file in dir and removes it: the file
// system takes writes again (room, and not read-only).
func probeWrite(dir string, n int) error {
	f, err := os.CreateTemp(dir, ".space-probe-")
	if err != nil {
		return fmt.Errorf("broker: probe write in %s: %w", dir, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, n))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("broker: probe write in %s: %w", dir, err)
	}
	return nil
}

// sizeOf says n bytes for a person.
func sizeOf(n uint64, err error) string {
	if err != nil {
		return "unknown"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
