package broker

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/testutil"
)

// refusals collects the permission violations the server reports to a
// client; nats.go hands them to the async error handler.
type refusals struct {
	mu   sync.Mutex
	errs []error
}

func (r *refusals) handle(_ *nats.Conn, _ *nats.Subscription, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

// of reports whether the server refused subject.
func (r *refusals) of(subject string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, err := range r.errs {
		if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
			return true
		}
	}
	return false
}

func readerOf(t *testing.T, dir string) Credentials {
	t.Helper()
	c, err := ReaderCredentials(dir)
	if err != nil {
		t.Fatalf("reader credentials: %v", err)
	}
	return c
}

func connectAs(t *testing.T, url string, c Credentials) (*nats.Conn, jetstream.JetStream) {
	nc, js, _ := connectWatched(t, url, c)
	return nc, js
}

// connectWatched connects as c over TCP and collects the refusals.
func connectWatched(t *testing.T, url string, c Credentials) (*nats.Conn, jetstream.JetStream, *refusals) {
	t.Helper()
	r := &refusals{}
	nc, err := nats.Connect(url, nats.UserInfo(c.User, c.Password.Reveal()), nats.ErrorHandler(r.handle))
	if err != nil {
		t.Fatalf("connect as %s: %v", c.User, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js, r
}

// watcherSetup is what the watcher makes on its own connection: the events
// stream, a snapshot bucket with one key, its Slack consumer, and one event.
func watcherSetup(t *testing.T, b *Broker) jetstream.KeyValue {
	t.Helper()
	ctx := ctxT(t)
	s, err := b.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"dcs.migration.>"}})
	if err != nil {
		t.Fatalf("watcher creates the stream: %v", err)
	}
	if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "watcher-slack", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatalf("watcher creates its consumer: %v", err)
	}
	kv, err := b.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "SNAPSHOTS"})
	if err != nil {
		t.Fatalf("watcher creates the bucket: %v", err)
	}
	if _, err := kv.Put(ctx, "p.t", []byte("MIGRATING")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.Publish(ctx, "dcs.migration.p.t.status_changed.MIGRATING", []byte(`{"real":true}`)); err != nil {
		t.Fatalf("watcher publishes in-process: %v", err)
	}
	return kv
}

// TestStrangerIsRefused: the listener admits no client without the
// generated credentials, nor one with a wrong password.
func TestStrangerIsRefused(t *testing.T) {
	dir := t.TempDir()
	b := start(t, embedded(dir))
	for name, opts := range map[string][]nats.Option{
		"no credentials":    nil,
		"wrong password":    {nats.UserInfo(ReaderUser, "guess")},
		"unknown user":      {nats.UserInfo("admin", "admin")},
		"reader's as token": {nats.Token(readerOf(t, dir).Password.Reveal())},
	} {
		t.Run(name, func(t *testing.T) {
			nc, err := nats.Connect(b.ClientURL(), append(opts, nats.MaxReconnects(0))...)
			if err == nil {
				nc.Close()
				t.Fatal("a stranger connected to the embedded server")
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("refused with %v, want an authorization violation", err)
			}
		})
	}
}

// TestWatcherConnectsInProcess: the watcher's own connection is a pipe
// into the server, not a TCP connection to the listener.
func TestWatcherConnectsInProcess(t *testing.T) {
	b := start(t, embedded(t.TempDir()))
	if addr := b.Conn.ConnectedAddr(); addr != "pipe" {
		t.Errorf("watcher connected to %q, want an in-process pipe", addr)
	}
	if _, err := b.JS.AccountInfo(ctxT(t)); err != nil {
		t.Errorf("JetStream in-process: %v", err)
	}
}

// TestReaderFollowsEvents: the read-only user can do what a subscriber
// needs: core subscribe, a durable consumer with fetch and ack, an
// ephemeral one, a read of the stream.
func TestReaderFollowsEvents(t *testing.T) {
	dir := t.TempDir()
	b := start(t, embedded(dir))
	ctx := ctxT(t)
	nc, js, refused := connectWatched(t, b.ClientURL(), readerOf(t, dir))
	events := make(chan *nats.Msg, 10)
	if _, err := nc.ChanSubscribe("dcs.migration.>", events); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	watcherSetup(t, b)
	if m := <-events; string(m.Data) != `{"real":true}` {
		t.Fatalf("reader's subscription got %q", m.Data)
	}

	s, err := js.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatalf("reader reads the stream's info: %v", err)
	}
	if _, err := s.GetLastMsgForSubject(ctx, "dcs.migration.>"); err != nil {
		t.Errorf("reader reads the last event: %v", err)
	}
	for name, cfg := range map[string]jetstream.ConsumerConfig{
		"durable":   {Durable: "dashboard", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: "dcs.migration.*.*.status_changed.>"},
		"ephemeral": {AckPolicy: jetstream.AckExplicitPolicy},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := s.CreateOrUpdateConsumer(ctx, cfg)
			if err != nil {
				t.Fatalf("reader creates a consumer: %v", err)
			}
			if _, err := c.Info(ctx); err != nil {
				t.Errorf("reader reads its consumer: %v", err)
			}
			batch, err := c.Fetch(1, jetstream.FetchContext(ctx))
			if err != nil {
				t.Fatalf("reader fetches: %v", err)
			}
			n := 0
			for m := range batch.Messages() {
				n++
				if err := m.DoubleAck(ctx); err != nil {
					t.Errorf("reader acks: %v", err)
				}
			}
			if n != 1 || batch.Error() != nil {
				t.Errorf("fetched %d messages (%v), want 1", n, batch.Error())
			}
		})
	}
	if _, err := js.Consumer(ctx, "EVENTS", "dashboard"); err != nil {
		t.Errorf("reader looks its durable consumer up: %v", err)
	}
	refused.mu.Lock()
	defer refused.mu.Unlock()
	if len(refused.errs) > 0 {
		t.Errorf("the server refused the reader: %v", refused.errs)
	}
}

// TestReaderCannotWrite: the read-only user cannot forge an event, touch
// the stream, the bucket or the watcher's consumer, nor overhear the
// watcher's replies; and what it tried left no trace.
func TestReaderCannotWrite(t *testing.T) {
	dir := t.TempDir()
	b := start(t, embedded(dir))
	ctx := ctxT(t)
	kv := watcherSetup(t, b)
	nc, _, refused := connectWatched(t, b.ClientURL(), readerOf(t, dir))

	forged := "dcs.migration.p.t.status_changed.FAILED"
	tries := []struct{ name, subject string }{
		{"forge a FAILED event", forged},
		{"delete the stream", "$JS.API.STREAM.DELETE.EVENTS"},
		{"purge the stream", "$JS.API.STREAM.PURGE.EVENTS"},
		{"update the stream", "$JS.API.STREAM.UPDATE.EVENTS"},
		{"delete an event", "$JS.API.STREAM.MSG.DELETE.EVENTS"},
		{"create a stream", "$JS.API.STREAM.CREATE.MINE"},
		{"put a snapshot", "$KV.SNAPSHOTS.p.t"},
		{"delete the bucket", "$JS.API.STREAM.DELETE.KV_SNAPSHOTS"},
		{"purge the bucket", "$JS.API.STREAM.PURGE.KV_SNAPSHOTS"},
		{"read a snapshot", "$JS.API.DIRECT.GET.KV_SNAPSHOTS.$KV.SNAPSHOTS.p.t"},
		{"pull from the Slack consumer", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.watcher-slack"},
		{"redefine the Slack consumer", "$JS.API.CONSUMER.CREATE.EVENTS.watcher-slack"},
		{"redefine the Slack consumer (old API)", "$JS.API.CONSUMER.DURABLE.CREATE.EVENTS.watcher-slack"},
		{"delete the Slack consumer", "$JS.API.CONSUMER.DELETE.EVENTS.watcher-slack"},
	}
	body, _ := json.Marshal(map[string]any{"name": "EVENTS", "subjects": []string{"x.>"}, "purge": map[string]any{}})
	for _, tt := range tries {
		t.Run(tt.name, func(t *testing.T) {
			if err := nc.PublishRequest(tt.subject, nc.NewInbox(), body); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, "the server to refuse "+tt.subject, func() bool { return refused.of(tt.subject) })
		})
	}
	if _, err := nc.Subscribe(watcherInbox+".>", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the server to refuse the watcher's inbox", func() bool { return refused.of(watcherInbox + ".>") })

	// Nothing changed: the watcher still sees its one event, its stream
	// config, its snapshot and its consumer.
	s, err := b.JS.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatalf("the stream is gone: %v", err)
	}
	if info, err := s.Info(ctx); err != nil || info.State.Msgs != 1 || info.Config.Subjects[0] != "dcs.migration.>" {
		t.Errorf("stream after the reader's tries: %+v, %v; want 1 message over dcs.migration.>", info, err)
	}
	if _, err := s.GetLastMsgForSubject(ctx, forged); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("the forged event reached the stream (%v)", err)
	}
	if e, err := kv.Get(ctx, "p.t"); err != nil || string(e.Value()) != "MIGRATING" {
		t.Errorf("snapshot after the reader's tries: %v, %v", e, err)
	}
	if _, err := s.Consumer(ctx, "watcher-slack"); err != nil {
		t.Errorf("the Slack consumer is gone: %v", err)
	}
}

// TestReaderDoesNotOverhearWatcher: a reader subscribed to every inbox
// sees its own replies and none of the watcher's (KV reads hold snapshots).
func TestReaderDoesNotOverhearWatcher(t *testing.T) {
	dir := t.TempDir()
	b := start(t, embedded(dir))
	kv := watcherSetup(t, b)
	nc, _ := connectAs(t, b.ClientURL(), readerOf(t, dir))
	heard := make(chan *nats.Msg, 100)
	if _, err := nc.ChanSubscribe("_INBOX.>", heard); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctxT(t), "p.t"); err != nil {
		t.Fatal(err)
	}
	// The server queued any copy of the watcher's reply to the reader
	// before the reader asked; the reader's own reply comes after it.
	own := nc.NewInbox()
	if err := nc.PublishRequest("$JS.API.INFO", own, nil); err != nil {
		t.Fatal(err)
	}
	for m := range heard {
		if m.Subject == own {
			break
		}
		t.Fatalf("reader overheard %s: %q", m.Subject, m.Data)
	}
}

// TestCredentialFiles: owner-only files and directories, stable passwords,
// a warning for an open data directory, and no password in the logs.
func TestCredentialFiles(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	log := zerolog.New(logs)
	dir := filepath.Join(t.TempDir(), "data") // created by Start
	o := embedded(dir)
	o.Logger = log
	b1, err := Start(ctxT(t), o)
	if err != nil {
		t.Fatal(err)
	}
	reader1 := readerOf(t, dir)
	watcher1, err := WatcherCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	b1.Close()
	if strings.Contains(logs.String(), "chmod") {
		t.Errorf("a data directory the watcher created was warned about: %s", logs)
	}

	for path, want := range map[string]os.FileMode{
		dir:                        0o700,
		filepath.Join(dir, "nats"): 0o700,
		filepath.Join(dir, "nats", "watcher.password"):    0o600,
		filepath.Join(dir, "nats", "reader.password"):     0o600,
		filepath.Join(dir, "nats", "reader.env"):          0o600,
		filepath.Join(dir, "nats", "reader.context.json"): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %04o, want %04o", path, fi.Mode().Perm(), want)
		}
	}
	if reader1.Password == watcher1.Password || len(reader1.Password) < 40 {
		t.Errorf("passwords are not distinct random strings")
	}

	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b2 := start(t, o)
	if !strings.Contains(logs.String(), `"path":"`+dir+`"`) || !strings.Contains(logs.String(), "chmod 0700") {
		t.Errorf("a 0755 data directory was not warned about:\n%s", logs)
	}
	if r := readerOf(t, dir); r != reader1 {
		t.Error("the reader's password changed across a restart")
	}
	if w, _ := WatcherCredentials(dir); w != watcher1 {
		t.Error("the watcher's password changed across a restart")
	}
	connectAs(t, b2.ClientURL(), reader1) // the old password still works

	env, err := os.ReadFile(filepath.Join(dir, "nats", "reader.env"))
	if err != nil || !strings.Contains(string(env), "export NATS_URL='"+b2.ClientURL()+"'") {
		t.Errorf("reader.env does not name the listener %s: %v", b2.ClientURL(), err)
	}
	var ctx struct{ URL, User, Password string }
	raw, err := os.ReadFile(filepath.Join(dir, "nats", "reader.context.json"))
	if err != nil || json.Unmarshal(raw, &ctx) != nil || ctx.URL != b2.ClientURL() || ctx.User != ReaderUser || ctx.Password != reader1.Password.Reveal() {
		t.Errorf("reader.context.json does not hold the reader's context: %v", err)
	}

	for _, pw := range []string{reader1.Password.Reveal(), watcher1.Password.Reveal()} {
		if strings.Contains(logs.String(), pw) {
			t.Fatalf("a generated password is in the logs")
		}
	}
	if logs.String() == "" {
		t.Fatal("no logs to scan")
	}
}
