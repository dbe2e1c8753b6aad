package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/config"
)

// TestMemoryLimitApplied: memory_limit is the runtime's soft limit once
// the watcher starts, and the log says so once; GOMEMLIMIT in the
// environment wins over it.
func TestMemoryLimitApplied(t *testing.T) {
	was := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(was) })
	cfg := config.Default()
	cfg.MemoryLimit = "300MiB"
	var log bytes.Buffer
	setMemoryLimit(cfg, cmdEnv{getenv: func(string) string { return "" }}, zerolog.New(&log))
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("soft memory limit %d, want 300MiB (%d)", got, 300<<20)
	}
	if !strings.Contains(log.String(), `"memory_limit":"300MiB (memory_limit)"`) || strings.Count(log.String(), "\n") != 1 {
		t.Errorf("log: %s", log.String())
	}

	debug.SetMemoryLimit(200 << 20) // as the runtime read GOMEMLIMIT=200MiB
	log.Reset()
	setMemoryLimit(cfg, cmdEnv{getenv: func(k string) string { return map[string]string{"GOMEMLIMIT": "200MiB"}[k] }}, zerolog.New(&log))
	if got := debug.SetMemoryLimit(-1); got != 200<<20 || !strings.Contains(log.String(), "200MiB (GOMEMLIMIT)") {
		t.Errorf("with GOMEMLIMIT set: limit %d, log %s", got, log.String())
	}
}
