package broker

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/secret"
)

// The embedded server's users. The watcher's user may do anything; the
// reader may follow the events and nothing else.
const (
	WatcherUser = "watcher"
	ReaderUser  = "reader"
)

// Layout of the credentials in the data directory, <data_dir>/nats/ (0700):
// <user>.password holds one user's password alone (generated once, kept);
// reader.env exports NATS_URL, NATS_USER and NATS_PASSWORD, the variables
// the nats CLI reads, for `. data/nats/reader.env`; reader.context.json is
// the same as a nats CLI context, for `nats --context data/nats/reader.context.json`.
// Every file is 0600.
const (
	credsDir      = "nats"
	readerEnv     = "reader.env"
	readerContext = "reader.context.json"
)

func passwordFile(user string) string { return user + ".password" }

// ReaderEnvPath is the shell file that sets the nats CLI up as the
// read-only user of the embedded server in dataDir.
func ReaderEnvPath(dataDir string) string { return filepath.Join(dataDir, credsDir, readerEnv) }

// watcherInbox is the reply prefix of the watcher's own connection: the
// reader may subscribe to _INBOX.> (its replies arrive there), and must
// not overhear the watcher's KV reads and pull responses.
const watcherInbox = "_WATCHER_INBOX"

// Credentials are a user and password for the embedded server.
type Credentials struct {
	User     string
	Password secret.Secret
}

// ReaderCredentials reads the read-only user's credentials that a watcher
// with the embedded server generated in dataDir.
func ReaderCredentials(dataDir string) (Credentials, error) {
	return readCredentials(dataDir, ReaderUser)
}

// WatcherCredentials reads the watcher's own credentials, every
// permission, from dataDir: for an operator's nats CLI.
func WatcherCredentials(dataDir string) (Credentials, error) {
	return readCredentials(dataDir, WatcherUser)
}

func readCredentials(dataDir, user string) (Credentials, error) {
	path := filepath.Join(dataDir, credsDir, passwordFile(user))
	b, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("broker: read the %s password: %w", user, err)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return Credentials{}, fmt.Errorf("broker: read the %s password: %s is empty", user, path)
	}
	return Credentials{User: user, Password: secret.Secret(pw)}, nil
}

// ensureCredentials returns the watcher's and the reader's credentials,
// generating each password the first time (random, mode 0600) and reading
// it back on every later start, so that clients keep working across
// restarts.
func ensureCredentials(dataDir string, log zerolog.Logger) (watcher, reader Credentials, err error) {
	dir := filepath.Join(dataDir, credsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Credentials{}, Credentials{}, fmt.Errorf("broker: credentials directory: %w", err)
	}
	warnIfOpen(dir, log)
	if watcher, err = ensureUser(dataDir, WatcherUser, log); err != nil {
		return Credentials{}, Credentials{}, err
	}
	if reader, err = ensureUser(dataDir, ReaderUser, log); err != nil {
		return Credentials{}, Credentials{}, err
	}
	return watcher, reader, nil
}

func ensureUser(dataDir, user string, log zerolog.Logger) (Credentials, error) {
	path := filepath.Join(dataDir, credsDir, passwordFile(user))
	if err := createPassword(path); err != nil {
		return Credentials{}, err
	}
	warnIfOpen(path, log)
	return readCredentials(dataDir, user)
}

// createPassword writes a random password to path unless the file exists.
func createPassword(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("broker: create password file: %w", err)
	}
	buf := make([]byte, 32)
	_, _ = rand.Read(buf) // crypto/rand.Read never fails (Go 1.24+)
	// URL-safe base64: no character a shell, a URL or a JSON string must quote.
	_, werr := f.WriteString(base64.RawURLEncoding.EncodeToString(buf) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path) // a half-written password would lock clients out for good
		return fmt.Errorf("broker: write password file %s: %w", path, werr)
	}
	return nil
}

// writeReaderFiles (re)writes reader.env and reader.context.json with the
// listener's current URL (nats.listen may have changed, or picked a free
// port); the password in them is the stable one.
func writeReaderFiles(dataDir, url string, reader Credentials) error {
	env := "# The watcher's read-only NATS user, for the nats CLI: . " + filepath.ToSlash(filepath.Join(credsDir, readerEnv)) + "\n" +
		"export NATS_URL='" + url + "'\n" +
		"export NATS_USER='" + reader.User + "'\n" +
		"export NATS_PASSWORD='" + reader.Password.Reveal() + "'\n"
	ctx, err := json.MarshalIndent(map[string]string{
		"description": "the DCS watcher's read-only user",
		"url":         url,
		"user":        reader.User,
		"password":    reader.Password.Reveal(),
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("broker: %s: %w", readerContext, err)
	}
	for name, body := range map[string][]byte{readerEnv: []byte(env), readerContext: append(ctx, '\n')} {
		if err := writePrivate(filepath.Join(dataDir, credsDir, name), body); err != nil {
			return err
		}
	}
	return nil
}

// writePrivate replaces path with body, mode 0600, never leaving a partial file.
func writePrivate(path string, body []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, body, 0o600); err != nil {
		return fmt.Errorf("broker: write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("broker: write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// ensureDataDir creates the data directory owner-only, and warns about an
// existing one that others may read: it holds the credentials and every
// snapshot. A warning, not a refusal: the operator may have reasons (a
// group-shared volume) and the files inside are 0600 anyway.
func ensureDataDir(dir string, log zerolog.Logger) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("broker: create data directory for the JetStream store: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("broker: data directory for the JetStream store: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("broker: data directory for the JetStream store %s: not a directory", dir)
	}
	warnIfOpen(dir, log)
	return nil
}

// warnIfOpen logs a warning when group or others have any access to path.
func warnIfOpen(path string, log zerolog.Logger) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	want := "0600"
	if fi.IsDir() {
		want = "0700"
	}
	log.Warn().Str("path", path).Str("mode", fmt.Sprintf("%04o", fi.Mode().Perm())).
		Msgf("other users may read the watcher's NATS data and credentials: chmod %s it", want)
}

// Scope is what the reader's permissions are built from: the events'
// subjects and stream, and the watcher's own durable consumers, which a
// reader must neither pull from (it would steal Slack's deliveries) nor
// redefine.
type Scope struct {
	SubjectPrefix string
	Stream        string
	Consumers     []string
}

// users are the embedded server's accounts: the watcher with every
// permission, the reader with readerPermissions. No user is anonymous.
func users(watcher, reader Credentials, s Scope) []*server.User {
	return []*server.User{
		{Username: watcher.User, Password: watcher.Password.Reveal()},
		{Username: reader.User, Password: reader.Password.Reveal(), Permissions: readerPermissions(s)},
	}
}

// readerPermissions let a client follow the events: subscribe to them
// (nats sub), and create, read and pull from its own consumers on the
// events stream (nats consumer add/next, nats.go's jetstream consumers).
// Publishing is an allow-list of the JetStream API calls that needs; the
// deny list repeats, for the reader, what must never pass even if the
// allow-list grows: events, KV writes, and stream deletes, purges and
// updates. Deny wins over allow in nats-server.
func readerPermissions(s Scope) *server.Permissions {
	st := s.Stream
	allow := []string{
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO." + st,
		"$JS.API.STREAM.MSG.GET." + st, // nats stream get: a read of the events
		"$JS.API.DIRECT.GET." + st, "$JS.API.DIRECT.GET." + st + ".>",
		"$JS.API.CONSUMER.CREATE." + st,        // an ephemeral consumer (older clients)
		"$JS.API.CONSUMER.CREATE." + st + ".>", // named: <consumer>[.<filter>]
		"$JS.API.CONSUMER.DURABLE.CREATE." + st + ".*",
		"$JS.API.CONSUMER.INFO." + st + ".*",
		"$JS.API.CONSUMER.NAMES." + st,
		"$JS.API.CONSUMER.LIST." + st,
		"$JS.API.CONSUMER.MSG.NEXT." + st + ".*",
		"$JS.ACK." + st + ".>",
		"$JS.FC." + st + ".>", // flow control replies of push consumers
	}
	deny := []string{
		s.SubjectPrefix + ".>",
		"$KV.>",
		"$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>",
		"$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.MSG.DELETE.>",
		"$JS.API.CONSUMER.DELETE.>",
	}
	for _, c := range s.Consumers {
		deny = append(deny,
			"$JS.API.CONSUMER.CREATE."+st+"."+c, "$JS.API.CONSUMER.CREATE."+st+"."+c+".>",
			"$JS.API.CONSUMER.DURABLE.CREATE."+st+"."+c,
			"$JS.API.CONSUMER.MSG.NEXT."+st+"."+c,
			"$JS.ACK."+st+"."+c+".>",
		)
	}
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: allow, Deny: deny},
		Subscribe: &server.SubjectPermission{
			Allow: []string{s.SubjectPrefix + ".>", "_INBOX.>"},
		},
	}
}
