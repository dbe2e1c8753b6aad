package app

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/broker"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/silence"
)

// NotifyMatch is a match of the config (a route's, a mute window's) as
// notify.Match reads events.
func NotifyMatch(mc config.MatchConfig) notify.Match {
	m := notify.Match{Project: mc.Project, TaskID: mc.TaskID, TaskName: mc.TaskName}
	for _, k := range mc.Kinds {
		m.Kinds = append(m.Kinds, diff.Kind(k))
	}
	for _, st := range mc.Status {
		m.Statuses = append(m.Statuses, dcs.Normalize(st))
	}
	for _, out := range mc.Outcome {
		m.Outcomes = append(m.Outcomes, dcs.Outcome(out))
	}
	for _, sv := range mc.Severity {
		m.Severities = append(m.Severities, notify.Severity(sv))
	}
	return m
}

// MuteWindows are slack.mute_windows as the silence package takes them.
func MuteWindows(cfg config.Config) ([]silence.Window, error) {
	out := make([]silence.Window, 0, len(cfg.Slack.MuteWindows))
	for i, w := range cfg.Slack.MuteWindows {
		win, err := silence.NewWindow(w.Name, w.Schedule, w.Duration, NotifyMatch(w.Match))
		if err != nil {
			return nil, fmt.Errorf("slack.mute_windows[%d]: %w", i, err)
		}
		out = append(out, win)
	}
	return out, nil
}

// openSilences opens the silences' bucket and follows it until ctx ends:
// the Set that marks the pollers' events, the Tracker for the Slack
// notifier's catch-up.
func (a *App) openSilences(ctx context.Context, log zerolog.Logger) error {
	cfg := a.Config
	windows, err := MuteWindows(cfg)
	if err != nil {
		return err
	}
	st, err := silence.Open(ctx, a.Broker.JS, cfg.Slack.SilencesBucket, cfg.NATS.Replicas, a.opts.Now)
	if err != nil {
		return err
	}
	log = log.With().Str("component", "silences").Logger()
	if a.Silences, err = st.Watch(ctx, windows, log); err != nil {
		return err
	}
	a.Catchup, err = st.Tracker(ctx, a.Silences, log)
	return err
}

// catchUpEvery is how often the ended silences are looked at for the
// tasks they hid that are still failing.
const catchUpEvery = 30 * time.Second

// CatchUp posts, once, each task a silence that has ended hid and that is
// still failing or stalled (one round of the loop Run keeps), and says how
// many.
func (a *App) CatchUp(ctx context.Context) (int, error) {
	return a.Catchup.CatchUp(ctx, a.now(), a.repost)
}

// repost publishes the catch-up event of a task a silence hid (see
// silence.Catchup.Repost): on the stream, so that Slack posts it as any
// event, in order, with its delivery marks.
func (a *App) repost(ctx context.Context, c silence.Catchup) error {
	return a.events.Publish(ctx, c.Repost(a.now()))
}

func (a *App) now() time.Time {
	if a.opts.Now != nil {
		return a.opts.Now()
	}
	return time.Now()
}

// SilenceStore connects to the watcher's NATS as the watcher itself (the
// read-only user may not write silences): an external NATS with the
// configured URL and credentials, or the embedded server's listener with
// the watcher's password from data_dir. It opens the silences' bucket;
// close ends the connection.
func SilenceStore(ctx context.Context, cfg config.Config) (st *silence.Store, close func(), err error) {
	o := broker.Options{URL: cfg.NATS.URL, CredsFile: cfg.NATS.CredsFile, Token: cfg.NATS.Token,
		Name: "dcs-watcher-silence", Logger: zerolog.Nop()}
	if o.URL == "" {
		watcher, err := broker.WatcherCredentials(cfg.DataDir)
		if err != nil {
			return nil, nil, err
		}
		o.URL, o.User, o.Password = "nats://"+cfg.NATS.Listen, watcher.User, watcher.Password
	}
	b, err := broker.Start(ctx, o)
	if err != nil {
		return nil, nil, fmt.Errorf("is the watcher running? %w", err)
	}
	st, err = silence.Open(ctx, b.JS, cfg.Slack.SilencesBucket, cfg.NATS.Replicas, nil)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	return st, b.Close, nil
}
