package broker

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

const planted = "hunter2"

func ctxT(t *testing.T) context.Context { return testutil.Context(t, 15*time.Second) }

// embedded is the options of an embedded server in dir, on a free loopback port.
func embedded(dir string) Options {
	return Options{Listen: "127.0.0.1:0", DataDir: dir, SubjectPrefix: "dcs.migration", Stream: "EVENTS", Consumers: []string{"watcher-slack"}}
}

func start(t *testing.T, o Options) *Broker {
	t.Helper()
	b, err := Start(ctxT(t), o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

func TestEmbeddedServerOnLoopback(t *testing.T) {
	dir := t.TempDir()
	b := start(t, embedded(dir))
	if !b.Embedded() {
		t.Fatal("Embedded() = false with no URL")
	}
	u, err := url.Parse(b.ClientURL())
	if err != nil {
		t.Fatalf("ClientURL %q: %v", b.ClientURL(), err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		t.Errorf("ClientURL %q is not on loopback", b.ClientURL())
	}
	if u.Port() == "" || u.Port() == "0" {
		t.Errorf("ClientURL %q has no real port", b.ClientURL())
	}

	// The watcher writes, another program reads, through JetStream.
	ctx := ctxT(t)
	if _, err := b.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"dcs.migration.>"}}); err != nil {
		t.Fatalf("create stream through the broker: %v", err)
	}
	if _, err := b.JS.Publish(ctx, "dcs.migration.p.t.discovered.RUNNING", []byte("hello")); err != nil {
		t.Fatalf("publish through the broker: %v", err)
	}
	_, other := connectAs(t, b.ClientURL(), readerOf(t, dir)) // a separate program: the nats CLI or a consumer
	s, err := other.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatalf("separate client sees no stream: %v", err)
	}
	msg, err := s.GetLastMsgForSubject(ctx, "dcs.migration.>")
	if err != nil || string(msg.Data) != "hello" {
		t.Fatalf("separate client reads %v, %v; want hello", msg, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Errorf("JetStream store is not in the data directory: %v", err)
	}
}

func TestEmbeddedDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b1, err := Start(ctxT(t), embedded(dir))
	if err != nil {
		t.Fatalf("first Start: %v", err)
	}
	kv, err := b1.JS.CreateKeyValue(ctxT(t), jetstream.KeyValueConfig{Bucket: "SNAPSHOTS", Storage: jetstream.FileStorage})
	if err != nil {
		b1.Close()
		t.Fatalf("create KV: %v", err)
	}
	if _, err := kv.Put(ctxT(t), "p.task-1", []byte("MIGRATING")); err != nil {
		b1.Close()
		t.Fatalf("put: %v", err)
	}
	b1.Close()

	b2 := start(t, embedded(dir))
	kv, err = b2.JS.KeyValue(ctxT(t), "SNAPSHOTS")
	if err != nil {
		t.Fatalf("bucket gone after restart: %v", err)
	}
	e, err := kv.Get(ctxT(t), "p.task-1")
	if err != nil || string(e.Value()) != "MIGRATING" {
		t.Fatalf("after restart: %v, %v; want MIGRATING", e, err)
	}
}

func TestExternalURL(t *testing.T) {
	tests := []struct {
		name string
		edit func(*server.Options)
		url  func(srv *server.Server) string
		tok  secret.Secret
	}{
		{"plain", nil, func(srv *server.Server) string { return srv.ClientURL() }, ""},
		{
			"user and password in the URL",
			func(o *server.Options) { o.Username, o.Password = "watcher", planted },
			func(srv *server.Server) string {
				return "nats://watcher:" + planted + "@" + srv.Addr().String()
			},
			"",
		},
		{
			"token option",
			func(o *server.Options) { o.Authorization = planted },
			func(srv *server.Server) string { return srv.ClientURL() },
			planted,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testutil.RunJetStream(t, -1, t.TempDir(), tt.edit)
			b := start(t, Options{URL: tt.url(srv), Token: tt.tok})
			if b.Embedded() {
				t.Error("Embedded() = true with a URL")
			}
			got := b.ClientURL()
			if !strings.Contains(got, srv.Addr().String()) {
				t.Errorf("ClientURL %q does not name the server at %s", got, srv.Addr())
			}
			if strings.Contains(got, planted) {
				t.Errorf("ClientURL %q shows the password", got)
			}
			if _, err := b.JS.AccountInfo(ctxT(t)); err != nil {
				t.Errorf("JetStream through the external server: %v", err)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = busy.Close() })
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		o    Options
		want []string
	}{
		{"listen without port", listen(embedded(t.TempDir()), "localhost"), []string{"nats.listen", `"localhost"`}},
		{"listen port not a number", listen(embedded(t.TempDir()), "127.0.0.1:http"), []string{"nats.listen", "invalid port"}},
		{"listen port too large", listen(embedded(t.TempDir()), "127.0.0.1:70000"), []string{"nats.listen", "invalid port"}},
		{"listen port negative", listen(embedded(t.TempDir()), "127.0.0.1:-1"), []string{"nats.listen", "invalid port"}},
		{"listen port in use", listen(embedded(t.TempDir()), busy.Addr().String()), []string{busy.Addr().String(), "listening"}},
		{"no data dir", embedded(""), []string{"data directory"}},
		{"data dir is a file", embedded(file), []string{"JetStream", file}},
		{"no stream", Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), SubjectPrefix: "dcs.migration"}, []string{"stream name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Start(ctxT(t), tt.o)
			if err == nil {
				b.Close()
				t.Fatal("Start succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func listen(o Options, addr string) Options {
	o.Listen = addr
	return o
}

func TestConnectErrorHidesCredentials(t *testing.T) {
	srv := testutil.RunJetStream(t, -1, t.TempDir(), func(o *server.Options) { o.Authorization = "the-real-token" })
	tests := []struct {
		name string
		o    Options
	}{
		{"user and password, nothing listening", Options{URL: "nats://user:" + planted + "@127.0.0.1:1"}},
		{"token in the URL", Options{URL: "nats://" + planted + "@127.0.0.1:1"}},
		{"no scheme", Options{URL: "user:" + planted + "@127.0.0.1:1"}},
		{"second of two URLs", Options{URL: "nats://127.0.0.1:1, nats://user:" + planted + "@127.0.0.1:2"}},
		{"malformed port", Options{URL: "nats://user:" + planted + "@127.0.0.1:port"}},
		{"wrong token option", Options{URL: srv.ClientURL(), Token: planted}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Start(ctxT(t), tt.o)
			if err == nil {
				b.Close()
				t.Fatal("Start succeeded")
			}
			if strings.Contains(err.Error(), planted) {
				t.Fatalf("error text leaks the credential: %q", err)
			}
			if !strings.Contains(err.Error(), "connect to NATS") {
				t.Errorf("error %q does not say what failed", err)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no credentials", "nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"user and password", "nats://user:" + planted + "@nats.example:4222", "nats://redacted@nats.example:4222"},
		{"token as user", "tls://" + planted + "@nats.example:4222", "tls://redacted@nats.example:4222"},
		{"list", "nats://a:" + planted + "@h1:4222,nats://h2:4222", "nats://redacted@h1:4222,nats://h2:4222"},
		{"no scheme", "user:" + planted + "@h1:4222", "nats://redacted@h1:4222"},
		{"unparsable", "nats://user:" + planted + "@h1:port", "<unparsable url>"},
		{"password with an unescaped slash", "nats://user:12/" + planted + "@h1:4222", "<unparsable url>"},
		{"password with an unescaped hash", "user:12#" + planted + "@h1:4222", "<unparsable url>"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redactURL(tt.in)
			if got != tt.want {
				t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, planted) {
				t.Errorf("redactURL(%q) = %q leaks the password", tt.in, got)
			}
		})
	}
}

// TestDataDirLock: a second broker on a data directory one holds is
// refused with who holds it; a start that fails after taking the lock
// (its port in use) gives it back, so the process's next start on the
// directory (a reload going back to the config before) takes it; so
// does one after the holder closes.
func TestDataDirLock(t *testing.T) {
	dir := t.TempDir()
	first := start(t, embedded(dir))
	_, err := Start(ctxT(t), embedded(dir))
	if !errors.Is(err, ErrDataDirHeld) {
		t.Fatalf("second broker on a held data dir: %v, want ErrDataDirHeld", err)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("refusal does not say who holds the directory: %v", err)
	}
	first.Close()

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if b, err := Start(ctxT(t), listen(embedded(dir), busy.Addr().String())); err == nil {
		b.Close()
		t.Fatal("start on a port in use succeeded")
	} else if errors.Is(err, ErrDataDirHeld) {
		t.Fatalf("start on a port in use: %v, want the bind error", err)
	}
	again, err := Start(ctxT(t), embedded(dir))
	if err != nil {
		t.Fatalf("start after a failed one on the same data dir: %v", err)
	}
	again.Close()
}
