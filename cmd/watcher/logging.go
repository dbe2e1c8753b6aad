package main

import (
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/config"
)

// newLogger builds the process logger: JSON by default, readable console
// output when writing to a terminal (format auto) or when asked. The poller
// logs from several goroutines at once, so writes are serialised: w need
// not be safe for concurrent use.
func newLogger(c config.LogConfig, w io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil || c.Level == "" {
		level = zerolog.InfoLevel
	}
	f, ok := w.(*os.File)
	tty := ok && isatty.IsTerminal(f.Fd())
	if c.Format == "console" || (tty && (c.Format == "auto" || c.Format == "")) {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !tty}
	}
	return zerolog.New(zerolog.SyncWriter(w)).Level(level).With().Timestamp().Logger()
}
