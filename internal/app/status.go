package app

import (
	"context"

	"github.com/dcs-watcher/watcher/internal/statuspage"
)

// newStatus is the status page's model (http.status_page with a page to
// serve it); nil otherwise. It reads the stream and the bucket this app
// writes, through NATS, so that a replica that does not lead serves the
// same page.
func (a *App) newStatus(o Options) *statuspage.Model {
	cfg := a.Config
	if !cfg.HTTP.StatusPage || o.StatusPage == nil {
		return nil
	}
	return statuspage.NewModel(statuspage.Options{
		JS: a.Broker.JS, Bucket: cfg.NATS.KVBucket, Stream: cfg.NATS.Stream, Prefix: cfg.NATS.SubjectPrefix,
		Logger: o.Logger, Now: o.Now,
	})
}

// ServeStatus hands the status page its model and keeps the model fed
// until ctx ends; then the page lets it go (the next app's model takes
// over after a reload). Run calls it; without a status page it returns
// at once.
func (a *App) ServeStatus(ctx context.Context) error {
	if a.Status == nil {
		return nil
	}
	a.opts.StatusPage.Use(a.Status)
	defer a.opts.StatusPage.Release(a.Status)
	return a.Status.Run(ctx)
}
