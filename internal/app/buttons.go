package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/notify/delivery"
	"github.com/dcs-watcher/watcher/internal/notify/slackact"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
)

// actionsTTL keeps what a click did as long as a card lives (the cards
// bucket's 90 days): an acknowledgement outlives any reminder of its
// incident.
const actionsTTL = 90 * 24 * time.Hour

// newButtons makes the listener of the cards' buttons: only in bot mode
// with slack.app_token set, and not when a replacement sender (the demo's
// console) stands for Slack; nil otherwise, and the cards have no buttons.
// A click that changes a card redraws it through redraw. The store reads
// the acknowledgements, which stop the reminders.
func newButtons(ctx context.Context, js jetstream.JetStream, cfg config.Config, o Options, redraw slackact.Redrawer) (*slackact.Listener, slackact.Store, error) {
	s := cfg.Slack
	if s.AppToken == "" || s.BotToken == "" || o.SlackSender != nil {
		return nil, slackact.Store{}, nil
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: s.ActionsBucket, Description: "watcher: what the Slack cards' buttons did", TTL: actionsTTL,
	})
	if err != nil {
		return nil, slackact.Store{}, fmt.Errorf("create actions bucket %s: %w", s.ActionsBucket, err)
	}
	var console *slackmsg.ConsoleURL
	if s.ConsoleURL != "" {
		if console, err = slackmsg.ParseConsoleURL(s.ConsoleURL); err != nil {
			return nil, slackact.Store{}, fmt.Errorf("slack.console_url: %w", err) // validated: not reached
		}
	}
	return slackact.New(slackact.Options{
		AppToken: s.AppToken, BotToken: s.BotToken, APIURL: s.APIURL,
		HTTPClient: &http.Client{Timeout: s.Timeout},
		Bucket:     kv,
		Actors:     s.Actors,
		Console:    console,
		Redraw:     redraw,
		Logger:     o.Logger.With().Str("component", "slack-buttons").Logger(),
		Now:        o.Now,
	}), slackact.Store{KV: kv}, nil
}

// notifierRedraw redraws a clicked card through the Slack notifier, which
// is made after the listener (it draws the cards with what the listener
// reads) and set here before either runs.
type notifierRedraw struct{ n *delivery.Notifier }

func (r *notifierRedraw) Redraw(ctx context.Context, c slackact.CardRef) error {
	if r.n == nil {
		return errors.New("slack buttons: no notifier to redraw the card")
	}
	return r.n.Redraw(ctx, c)
}
