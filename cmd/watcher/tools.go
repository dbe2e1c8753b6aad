package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/broker"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/msgtmpl"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
)

// cmdTail prints the events of a running watcher as they are published:
// one line each, or the raw CloudEvents JSON with --json. It needs no nats
// CLI: it connects to nats.url, or to the embedded server's nats.listen as
// the read-only user whose password the watcher keeps in data_dir.
func cmdTail(ctx context.Context, env cmdEnv, args []string) error {
	fs := newFlags("tail", env)
	filter := fs.String("filter", ">", "subject filter after the prefix, e.g. '*.*.status_changed.>'")
	raw := fs.Bool("json", false, "print each event's JSON instead of a summary line")
	count := fs.Int("count", 0, "exit after this many events (0: until interrupted)")
	cfg, err := loadConfig(env, fs, args, config.SectionNATS)
	if err != nil {
		return err
	}
	b, err := connectTail(ctx, cfg)
	if err != nil {
		return fmt.Errorf("is the watcher running? %w", err)
	}
	defer b.Close()
	msgs := make(chan *nats.Msg, 256)
	subject := cfg.NATS.SubjectPrefix + "." + *filter
	sub, err := b.Conn.ChanSubscribe(subject, msgs)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := b.Conn.Flush(); err != nil {
		return fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	fmt.Fprintf(env.stderr, "tailing %s on %s\n", subject, b.ClientURL())
	for n := 0; *count == 0 || n < *count; n++ {
		select {
		case <-ctx.Done():
			return nil
		case m := <-msgs:
			if *raw {
				fmt.Fprintf(env.stdout, "%s\n", m.Data)
				continue
			}
			var e notify.Envelope
			if err := json.Unmarshal(m.Data, &e); err != nil {
				fmt.Fprintf(env.stdout, "%s  (not an event: %v)\n", m.Subject, err)
				continue
			}
			fmt.Fprintf(env.stdout, "%s  %-19s %s\n", e.Time.Local().Format(time.DateTime), e.Data.Kind, eventLine(e.Data))
		}
	}
	return nil
}

// connectTail connects to an external NATS as configured, or to the
// embedded server's listener with the reader's credentials.
func connectTail(ctx context.Context, cfg config.Config) (*broker.Broker, error) {
	o := broker.Options{URL: cfg.NATS.URL, CredsFile: cfg.NATS.CredsFile, Token: cfg.NATS.Token,
		Name: "dcs-watcher-tail", Logger: zerolog.Nop()}
	if o.URL == "" {
		reader, err := broker.ReaderCredentials(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		o.URL, o.User, o.Password = "nats://"+cfg.NATS.Listen, reader.User, reader.Password
	}
	return broker.Start(ctx, o)
}

// cmdNotifyTest posts a sample message to the configured Slack webhook, so
// that whoever sets the watcher up sees the channel and the format before a
// real migration does.
func cmdNotifyTest(ctx context.Context, env cmdEnv, args []string) error {
	fs := newFlags("notify-test", env)
	routeName := fs.String("route", "", "post through this route of slack.routes (default: the default destination)")
	cfg, err := loadConfig(env, fs, args, config.SectionSlack)
	if err != nil {
		return err
	}
	dest, err := app.SlackDestinationOf(cfg, *routeName)
	if err != nil {
		return usageError{err}
	}
	mentions, tmpl := dest.Mentions, dest.Template
	prev := &dcs.Task{ID: "00000000000000000000000000000000", Name: "watcher notify-test", Status: string(dcs.StatusFullMigrating),
		Source: dcs.Instance{Name: "source-redis", Addrs: "192.0.2.1:6379"}, Target: dcs.Instance{Name: "target-redis", Addrs: "192.0.2.2:6379"}}
	curr := *prev
	curr.Status = string(dcs.StatusIncrMigrating)
	ev := diff.Diff(prev, &curr)[0]
	now := time.Now()
	project := cfg.DCS.ProjectID
	if project == "" {
		project = "notify-test" // only the slack section need be set
	}
	e := notify.Build(cfg.NATS.SubjectPrefix, ev, notify.Meta{Region: cfg.DCS.Region, ProjectID: project,
		ObservedAt: now, PrevStatusSince: now.Add(-3 * time.Minute)})
	// The destination's own templates, so that whoever wrote one sees it.
	set := msgtmpl.Default()
	if tmpl != "" {
		if set, err = msgtmpl.Load(tmpl); err != nil {
			return err
		}
	}
	msg := slackmsg.NewRenderer(set, nil, zerolog.Nop()).Render(e)
	msg.Text = "Test message from the DCS migration watcher. " + msg.Text
	msg = slackmsg.WithMentions(msg, mentions)
	hc := &http.Client{Timeout: cfg.Slack.Timeout}
	if dest.Channel != "" {
		bot := slackwire.NewBot(cfg.Slack.BotToken, cfg.Slack.APIURL, hc)
		if _, _, err := bot.Post(ctx, dest.Channel, msg); err != nil {
			return fmt.Errorf("slack did not accept the test message in %s: %w", dest.Channel, err)
		}
		fmt.Fprintf(env.stdout, "slack accepted the test message in %s\n", dest.Channel)
		return nil
	}
	sender := slackwire.WebhookSender{URL: dest.Webhook, HTTPClient: hc}
	answer, err := sender.Post(ctx, &msg)
	if answer.Status != 0 {
		// The answer, never the URL (Post redacts it from the body).
		fmt.Fprintf(env.stdout, "slack answered: HTTP %d %s\n", answer.Status, answer.Body)
	}
	if err != nil {
		return fmt.Errorf("slack did not accept the test message: %w", err)
	}
	fmt.Fprintln(env.stdout, "slack accepted the test message")
	return nil
}

// eventLine is an event for the console: the task's name in a column, then
// what happened.
func eventLine(d notify.Data) string { return fmt.Sprintf("%-20s %s", d.Name(), d.What(nil)) }
