// Command consumer is an example of a program downstream of the DCS
// migration-task watcher: a durable JetStream pull consumer of the tasks
// that fail. It filters the stream with event.Subject, decodes each message
// with event.Decode, handles it (prints one line), and acks it, so that a
// restart neither loses a failure nor tells one twice.
//
// With the watcher's embedded NATS, run it as the read-only user:
//
//	. data/nats/reader.env    # NATS_URL, NATS_USER, NATS_PASSWORD
//	go run ./examples/consumer -durable my-failures
//
// or give -server, -user and -password-file (data/nats/reader.password);
// with an external NATS, -creds names a credentials file.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/event"
)

func main() { os.Exit(run()) }

func run() int {
	o, err := parse(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := consume(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		return 1
	}
	return 0
}

// options say where to read and as whom.
type options struct {
	server, user, password, creds string
	stream, prefix, project       string
	durable                       string
}

// parse reads the flags; the server, user and password default to the
// NATS_URL, NATS_USER and NATS_PASSWORD variables that reader.env sets, so
// that the password stays off the command line.
func parse(args []string, getenv func(string) string) (options, error) {
	fs := flag.NewFlagSet("consumer", flag.ContinueOnError)
	o := options{}
	fs.StringVar(&o.server, "server", or(getenv("NATS_URL"), nats.DefaultURL), "NATS URL (default $NATS_URL)")
	fs.StringVar(&o.user, "user", getenv("NATS_USER"), "NATS user (default $NATS_USER)")
	pwFile := fs.String("password-file", "", "file holding the user's password (default: $NATS_PASSWORD)")
	fs.StringVar(&o.creds, "creds", "", "NATS credentials file (an external NATS)")
	fs.StringVar(&o.stream, "stream", event.DefaultStream, "the watcher's stream")
	fs.StringVar(&o.prefix, "prefix", event.DefaultPrefix, "the watcher's subject prefix (nats.subject_prefix)")
	fs.StringVar(&o.project, "project", "", "only this project's tasks (default: every project)")
	fs.StringVar(&o.durable, "durable", "failures", "durable consumer name: where this consumer's acks are kept")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.password = getenv("NATS_PASSWORD")
	if *pwFile != "" {
		b, err := os.ReadFile(*pwFile)
		if err != nil {
			return o, fmt.Errorf("-password-file: %w", err)
		}
		o.password = strings.TrimSpace(string(b))
	}
	return o, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// redacted is a NATS URL list without the passwords a URL may hold.
func redacted(servers string) string {
	parts := strings.Split(servers, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// consume reads the failures until ctx ends, one line each on out.
func consume(ctx context.Context, o options, out, logs io.Writer) error {
	opts := []nats.Option{nats.Name("failures example"), nats.MaxReconnects(-1)}
	if o.user != "" {
		opts = append(opts, nats.UserInfo(o.user, o.password))
	}
	if o.creds != "" {
		opts = append(opts, nats.UserCredentials(o.creds))
	}
	nc, err := nats.Connect(o.server, opts...)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redacted(o.server), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	// The moments tasks fail, however the API spells the failure.
	filter := event.Subject{Prefix: o.prefix, Project: o.project, Kind: event.StatusChanged, Outcome: event.OutcomeFailed}.Filter()
	c, err := js.CreateOrUpdateConsumer(ctx, o.stream, jetstream.ConsumerConfig{
		Durable:       o.durable,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("consumer %s on %s (%s): %w", o.durable, o.stream, filter, err)
	}
	h := &handler{out: out, logs: logs, seen: map[string]bool{}}
	cc, err := c.Consume(h.handle, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		fmt.Fprintf(logs, "consume %s: %v\n", o.durable, err) // nats.go retries by itself
	}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", o.durable, err)
	}
	fmt.Fprintf(logs, "consuming %s from %s as %s\n", filter, o.stream, o.durable)
	<-ctx.Done()
	cc.Drain()
	<-cc.Closed()
	return nil
}

// handler handles one message at a time (Consume calls it in order).
type handler struct {
	out, logs io.Writer
	// seen is the ids handled by this process: a redelivery (an ack that
	// was lost) is acked again, not handled twice. A program whose
	// handling must happen once across restarts keeps them in its own
	// store.
	seen map[string]bool
}

func (h *handler) handle(m jetstream.Msg) {
	env, err := event.Decode(m.Data())
	if err != nil { // event.ErrMalformed or event.ErrVersion
		fmt.Fprintf(h.logs, "skip %s: %v\n", m.Subject(), err)
		_ = m.Term() // a redelivery would not make it readable
		return
	}
	if !h.seen[env.ID] {
		d := env.Data
		fmt.Fprintf(h.out, "failed project=%s task=%s status=%s id=%s at=%s: %s\n",
			d.ProjectID, d.TaskID, status(d), env.ID, env.Time.Format(time.RFC3339), d.Summary())
		h.seen[env.ID] = true
	}
	// Its own deadline, not the signal's context: a message handled while
	// the consumer drains at shutdown is acked too.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.DoubleAck(ctx); err != nil {
		// Not acked: JetStream delivers it again after the ack wait.
		fmt.Fprintf(h.logs, "ack %s: %v\n", env.ID, err)
	}
}

// status is the failure status as the API spelled it.
func status(d event.Data) string {
	raw, _, ok := d.Current()
	if !ok {
		return "?"
	}
	return raw
}
