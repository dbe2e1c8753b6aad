package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// lockFile is the data directory's lock: one embedded nats-server, one
// JetStream store, one set of credentials per directory. Its holder
// writes who it is into it, for whoever is refused.
const lockFile = "watcher.lock"

// ErrDataDirHeld is the error of a start on a data directory another
// watcher process holds.
var ErrDataDirHeld = errors.New("data directory held by another watcher")

// dataLock is a held lock of a data directory; close releases it.
type dataLock struct{ f *os.File }

// lockDataDir takes the data directory's lock without waiting, or says
// which process holds it (the lock goes with that process, even a killed
// one: no stale lock to clean up).
func lockDataDir(dir, listen string) (*dataLock, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("broker: lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "a process that has not said who it is"
			}
			return nil, fmt.Errorf("broker: %w: %s is in use by %s; "+
				"stop that watcher first, or give this one another data_dir (watcher tail -c shows a running watcher's events)",
				ErrDataDirHeld, dir, who)
		}
		return nil, fmt.Errorf("broker: lock data directory %s: %w", dir, err)
	}
	who := fmt.Sprintf("pid %d (%s, embedded NATS on %s, since %s)\n", os.Getpid(), command(), listen, time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(who), 0)
	}
	return &dataLock{f: f}, nil
}

// command is this process's program and subcommand ("watcher run"),
// never its other arguments.
func command() string {
	c := filepath.Base(os.Args[0])
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		c += " " + os.Args[1]
	}
	return c
}

func (l *dataLock) close() {
	if l != nil {
		_ = l.f.Close() // closing the descriptor releases the lock
	}
}
