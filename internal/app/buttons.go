package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/delivery"
	"github.com/dcs-watcher/watcher/internal/notify/slackact"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/silence"
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
func newButtons(ctx context.Context, js jetstream.JetStream, cfg config.Config, o Options, redraw slackact.Redrawer,
	silences slackact.Silencer, logs slackact.LogTail) (*slackact.Listener, slackact.Store, error) {
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
		Silencer:   silences,
		LogTail:    logs,
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

// buttonSilences adds the silences of the cards' Silence button to the
// silence store, as watcher silence add would: for the task's project and
// id.
type buttonSilences struct {
	st  *silence.Store
	now func() time.Time
}

func (b buttonSilences) Add(ctx context.Context, m notify.Match, d time.Duration, comment, by string) (string, error) {
	var matchers []string
	for key, v := range map[string]string{"project": m.Project, "task": m.TaskID, "name": m.TaskName} {
		if v != "" {
			matchers = append(matchers, key+"="+v)
		}
	}
	if len(matchers) == 0 {
		return "", errors.New("slack buttons: a silence needs a task")
	}
	sort.Strings(matchers)
	s, err := b.st.Add(ctx, silence.Silence{Matchers: matchers, End: b.now().Add(d), Comment: comment, CreatedBy: by})
	return s.ID, err
}

// logTail is the Show log button's read of a task's log: the ERROR lines
// of the project's client, newest first.
func logTail(projects []Project) slackact.LogTail {
	return func(ctx context.Context, projectID, taskID string) ([]dcs.LogEntry, error) {
		for _, p := range projects {
			if p.ProjectID != projectID {
				continue
			}
			lines, _, _, err := p.client.Logs(ctx, taskID, dcs.LogQuery{Level: "ERROR", Limit: 20})
			sort.SliceStable(lines, func(i, j int) bool { return lines[i].Time.After(lines[j].Time) })
			return lines, err
		}
		return nil, fmt.Errorf("show log: project %s is not watched here", projectID)
	}
}
