package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/dcs-watcher/watcher/internal/poller"
)

// Run polls every project on the configured schedule, each with its own
// poller, delivers to Slack (when on) and feeds the status page (when on)
// until ctx is done.
func (a *App) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(a.Projects)+1)
	if a.Leases != nil {
		wg.Go(func() { a.heartbeat(ctx) })
	}
	for i, p := range a.Projects {
		wg.Go(func() {
			run := p.Poller.Run
			if a.Leases != nil {
				run = func(ctx context.Context, spec string) error { return a.lead(ctx, i, spec) }
			}
			if err := run(ctx, a.Config.Poll.Schedule); err != nil {
				errs <- fmt.Errorf("project %s: %w", p.Name, err)
			}
		})
	}
	if a.Config.Heartbeat.Every > 0 {
		wg.Go(func() { a.beatLoop(ctx) })
	}
	if a.beats.pinger != nil {
		wg.Go(func() { a.pingLoop(ctx) })
	}
	if a.Slack != nil {
		wg.Go(func() { errs <- a.Slack.Run(ctx) })
		wg.Go(func() { a.Catchup.RunCatchUp(ctx, catchUpEvery, a.now, a.repost) }) // the loop of CatchUp
	}
	if a.Buttons != nil {
		wg.Go(func() { errs <- a.Buttons.Run(ctx) })
	}
	if a.Status != nil {
		wg.Go(func() { errs <- a.ServeStatus(ctx) })
	}
	wg.Wait()
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	return errors.Join(all...)
}

// Cycle runs one watch cycle of every project at once (the once command),
// and returns each project's stats and error, naming the project.
func (a *App) Cycle(ctx context.Context) ([]poller.Stats, error) {
	var wg sync.WaitGroup
	errs := make([]error, len(a.Projects))
	stats := make([]poller.Stats, len(a.Projects))
	for i, p := range a.Projects {
		wg.Go(func() {
			var err error
			stats[i], err = p.Poller.Cycle(ctx)
			a.recordCycle(p.Key, stats[i], err)
			if err != nil {
				errs[i] = fmt.Errorf("project %s: %w", p.Name, err)
			}
		})
	}
	wg.Wait()
	return stats, errors.Join(errs...)
}

// Stop closes the NATS connection and shuts the embedded server down.
func (a *App) Stop() {
	if a.stopSilences != nil {
		a.stopSilences()
	}
	a.Broker.Close()
}
