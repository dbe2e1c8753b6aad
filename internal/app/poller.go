package app

import (
	"context"
	"path/filepath"

	"github.com/dcs-watcher/watcher/internal/attention"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/kvkey"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/poller"
)

// poller watches one project: its own client, its region's publisher, the
// shared snapshot store (its keys are <project>.<task>).
func (a *App) poller(p config.Project, client *dcs.Client, pub *notify.Publisher, o Options, fence func(context.Context) error, journal poller.JournalOptions) *poller.Poller {
	cfg := a.Config
	return poller.New(client, pub, a.Snaps, poller.Options{
		ProjectID:       p.ProjectID,
		TaskIDs:         p.TaskIDs,
		Discover:        p.Discover,
		NameFilter:      p.NameFilter,
		Detail:          poller.Detail(cfg.Poll.Detail),
		RateLimit:       cfg.DCS.RateLimit,
		RefreshActive:   cfg.Poll.RefreshActive,
		RefreshTerminal: cfg.Poll.RefreshTerminal,
		AbsentChecks:    cfg.Poll.AbsentChecks,
		Stats:           client,
		StatsEvery:      cfg.Poll.StatsEvery,
		Concurrency:     cfg.DCS.Concurrency,
		Now:             o.Now,
		Logger:          o.Logger.With().Str("component", "poller").Str("project_id", p.ProjectID).Logger(),
		Published:       o.Published,
		Cycled:          a.cycled(p.Key, o.Cycled),
		Listed:          func(n int) { o.Fleet.Listed(p.ProjectID, n) },
		Fence:           fence,
		Journal:         journal,
		Offline:         a.offline,
		Silencer:        a.Silences,
		Attention: attention.Config{StallAfter: cfg.Attention.StallAfter, MaxLag: cfg.Attention.MaxLag,
			LagGrowingFor: cfg.Attention.LagGrowingFor, MaxInStatus: cfg.Attention.Allowances()},
		Logs: client,
	})
}

// journal is where project p's poller journals what the store does not
// take: <data_dir>/journal/<region>.<project>.jsonl (memory only without a
// data_dir); holder and accept as poller.JournalOptions has them.
func (a *App) journal(p config.Project, holder string, accept func(string) bool) poller.JournalOptions {
	o := poller.JournalOptions{Holder: holder, Accept: accept}
	if a.Config.DataDir != "" {
		o.Path = filepath.Join(a.Config.DataDir, "journal", kvkey.Token(p.Region)+"."+kvkey.Token(p.ProjectID)+".jsonl")
	}
	return o
}

// offline says the store cannot take writes now: the connection is down,
// or the embedded server's store cannot write (a full disk). A cycle then
// journals what it sees at once instead of waiting out writes the store
// would not answer.
func (a *App) offline() bool {
	return !a.Broker.Conn.IsConnected() || a.Broker.StoreErr() != nil
}
