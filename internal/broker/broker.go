// Package broker gives the watcher its NATS connection: with no URL
// configured it starts an embedded nats-server with JetStream on disk in the
// data directory and connects to it in-process; the server's loopback
// listener, for the nats CLI and other programs, admits only the users whose
// passwords it generates in the data directory (the watcher's, and a
// read-only one for subscribers). With a URL it connects to an existing
// deployment. Either way the rest of the watcher sees one *nats.Conn and one
// JetStream.
package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/secret"
)

// Options says which NATS to use.
type Options struct {
	// URL of an external NATS; empty starts the embedded server.
	URL       string
	CredsFile string
	Token     secret.Secret
	// User and Password authenticate to URL (tail uses the reader's).
	User     string
	Password secret.Secret
	// Listen is the embedded server's client address (host:port; port 0 picks a free one).
	Listen string
	// DataDir holds the embedded server's JetStream store and credentials.
	DataDir string
	// SubjectPrefix and Stream name the events the embedded server's
	// read-only user may follow; Consumers are the watcher's own durable
	// consumers on Stream, which that user may not touch.
	SubjectPrefix string
	Stream        string
	Consumers     []string
	// Name is the client connection name shown by the server.
	Name string
	// StuckAfter is how long the embedded store may keep failing to write
	// once the data directory has room before StoreStuck says so (0:
	// DefaultStuckAfter).
	StuckAfter time.Duration
	Logger     zerolog.Logger
}

// Broker is a NATS connection, with the embedded server behind it when there is one.
type Broker struct {
	Conn *nats.Conn
	JS   jetstream.JetStream
	srv  *server.Server
	// store watches the embedded server's store (nil with an external NATS).
	store *storeWatch
	// lock is the data directory's, held while the embedded server runs.
	lock *dataLock
}

// Start connects to NATS, starting the embedded server first when no URL is
// given. It gives up when ctx is done.
func Start(ctx context.Context, o Options) (*Broker, error) {
	b := &Broker{}
	var nc *nats.Conn
	if o.URL == "" {
		srv, watcher, lock, err := startEmbedded(o)
		if err != nil {
			return nil, err
		}
		b.srv, b.lock = srv, lock
		if b.store, err = newStoreWatch(srv, o.DataDir, o.StuckAfter, o.Logger); err != nil {
			b.Close()
			return nil, err
		}
		go b.store.run()
		nc, err = connectInProcess(ctx, srv, watcher, o)
		if err != nil {
			b.Close()
			return nil, err
		}
	} else {
		var err error
		if nc, err = connect(ctx, o.URL, o); err != nil {
			return nil, err
		}
	}
	b.Conn = nc
	js, err := jetstream.New(nc)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("broker: jetstream: %w", err)
	}
	b.JS = js
	return b, nil
}

// Embedded reports whether the watcher runs its own nats-server.
func (b *Broker) Embedded() bool { return b.srv != nil }

// ClientURL is the address other programs use to reach the embedded server,
// or the connected server's URL.
func (b *Broker) ClientURL() string {
	if b.srv != nil {
		return b.srv.ClientURL()
	}
	if b.Conn != nil {
		return b.Conn.ConnectedUrlRedacted()
	}
	return ""
}

// StoreErr says why the embedded server's store does not write (a full
// disk), naming the data directory and its free space; nil while it
// writes, and always with an external NATS.
func (b *Broker) StoreErr() error {
	if b.store == nil {
		return nil
	}
	return b.store.err()
}

// StoreStuck says why the embedded store is stuck: it has not written
// for StuckAfter though the data directory has had room, so that only a
// restart of the process may help; nil otherwise.
func (b *Broker) StoreStuck() error {
	if b.store == nil {
		return nil
	}
	return b.store.stuckErr()
}

// Close drains the connection and shuts the embedded server down.
func (b *Broker) Close() {
	if b.store != nil {
		b.store.close()
	}
	if b.Conn != nil {
		_ = b.Conn.Drain()
		b.Conn.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
	b.lock.close()
}

// startEmbedded starts the embedded server and returns it with the
// watcher's own credentials and the data directory's lock.
func startEmbedded(o Options) (_ *server.Server, _ Credentials, _ *dataLock, err error) {
	host, port, err := splitListen(o.Listen)
	if err != nil {
		return nil, Credentials{}, nil, err
	}
	if o.DataDir == "" {
		return nil, Credentials{}, nil, errors.New("broker: embedded nats-server needs a data directory (data_dir)")
	}
	if o.SubjectPrefix == "" || o.Stream == "" {
		// Without them the read-only user's permissions would name nothing.
		return nil, Credentials{}, nil, errors.New("broker: embedded nats-server needs the subject prefix and the stream name")
	}
	if err := ensureDataDir(o.DataDir, o.Logger); err != nil {
		return nil, Credentials{}, nil, err
	}
	// lock is not a named result: the error returns below set that to
	// nil, and the deferred close would release nothing (a failed start,
	// a port in use, kept the directory locked against the process's own
	// next start).
	lock, err := lockDataDir(o.DataDir, o.Listen)
	if err != nil {
		return nil, Credentials{}, nil, err
	}
	defer func() {
		if err != nil {
			lock.close()
		}
	}()
	watcher, reader, err := ensureCredentials(o.DataDir, o.Logger)
	if err != nil {
		return nil, Credentials{}, nil, err
	}
	opts := &server.Options{
		ServerName: "dcs-watcher",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Join(o.DataDir, "jetstream"),
		NoSigs:     true, // the watcher owns signal handling
		NoLog:      true,
		Users:      users(watcher, reader, Scope{SubjectPrefix: o.SubjectPrefix, Stream: o.Stream, Consumers: o.Consumers}),
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, Credentials{}, nil, fmt.Errorf("broker: embedded nats-server: %w", err)
	}
	// nats-server reports a failed start (port in use, unusable store
	// directory) only through its logger's Fatalf; catch it so that the
	// error says why instead of timing out.
	fatal := make(chan string, 1)
	srv.SetLogger(fatalLogger(fatal), false, false)
	go srv.Start()
	deadline := time.Now().Add(10 * time.Second)
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		select {
		case msg := <-fatal:
			srv.Shutdown()
			return nil, Credentials{}, nil, fmt.Errorf("broker: embedded nats-server on %s (store %s): %s", o.Listen, opts.StoreDir, msg)
		default:
		}
		if time.Now().After(deadline) {
			srv.Shutdown()
			return nil, Credentials{}, nil, fmt.Errorf("broker: embedded nats-server on %s not ready after 10s", o.Listen)
		}
	}
	if err := writeReaderFiles(o.DataDir, srv.ClientURL(), reader); err != nil {
		srv.Shutdown()
		return nil, Credentials{}, nil, err
	}
	o.Logger.Info().Str("url", srv.ClientURL()).Str("store", opts.StoreDir).
		Str("credentials", filepath.Join(o.DataDir, credsDir)).Msg("embedded nats-server started")
	return srv, watcher, lock, nil
}

// splitListen turns "host:port" into nats-server options; port 0 means any
// free port, which nats-server spells -1.
func splitListen(listen string) (string, int, error) {
	if listen == "" {
		listen = "127.0.0.1:4222"
	}
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("broker: nats.listen %q: %w", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("broker: nats.listen %q: invalid port", listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// connectInProcess connects to the embedded server through a pipe: the
// watcher's own traffic never crosses the listener that others reach.
func connectInProcess(ctx context.Context, srv *server.Server, watcher Credentials, o Options) (*nats.Conn, error) {
	opts := append(commonOptions(ctx, o),
		nats.InProcessServer(srv),
		nats.UserInfo(watcher.User, watcher.Password.Reveal()),
		nats.CustomInboxPrefix(watcherInbox),
	)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: connect in-process to the embedded nats-server: %w", err)
	}
	return nc, nil
}

func connect(ctx context.Context, url string, o Options) (*nats.Conn, error) {
	opts := commonOptions(ctx, o)
	if o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token.Reveal()))
	}
	if o.User != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password.Reveal()))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		// nats errors do not carry the token, but the URL may hold user:pass,
		// and a *url.Error quotes the whole URL it could not parse.
		if _, bad := errors.AsType[*neturl.Error](err); bad {
			return nil, fmt.Errorf("broker: connect to NATS at %s: malformed URL (check host, port and the escaping of user:password)", redactURL(url))
		}
		return nil, fmt.Errorf("broker: connect to NATS at %s: %w", redactURL(url), err)
	}
	return nc, nil
}

// commonOptions are the connection options for any NATS: a name, endless
// reconnects, logged disconnects, and ctx's deadline as the dial timeout.
func commonOptions(ctx context.Context, o Options) []nats.Option {
	name := o.Name
	if name == "" {
		name = "dcs-watcher"
	}
	log := o.Logger
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1), // a watcher outlives NATS restarts
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: our own Close or Drain
				log.Warn().Err(err).Msg("nats disconnected")
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info().Str("url", c.ConnectedUrlRedacted()).Msg("nats reconnected")
		}),
	}
	if deadline, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(time.Until(deadline)))
	}
	return opts
}

// fatalLogger is the embedded server's logger: it stays silent (the server
// runs with NoLog) except for the first fatal error, which it hands to
// startEmbedded.
type fatalLogger chan<- string

func (l fatalLogger) Fatalf(format string, v ...any) {
	select {
	case l <- fmt.Sprintf(format, v...):
	default:
	}
}

func (fatalLogger) Noticef(string, ...any) {}
func (fatalLogger) Warnf(string, ...any)   {}
func (fatalLogger) Errorf(string, ...any)  {}
func (fatalLogger) Debugf(string, ...any)  {}
func (fatalLogger) Tracef(string, ...any)  {}
