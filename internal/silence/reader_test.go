package silence_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/broker"
	"github.com/dcs-watcher/watcher/internal/silence"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestReaderCannotSilence: the embedded server's read-only user can
// neither add a silence nor remove one: every write to the silences'
// bucket is refused, and the watcher's silences are as they were.
func TestReaderCannotSilence(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	b, err := broker.Start(ctx, broker.Options{Listen: "127.0.0.1:0", DataDir: dir, SubjectPrefix: "dcs.migration",
		Stream: "DCS_MIGRATION", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	st, err := silence.Open(ctx, b.JS, silence.DefaultBucket, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := st.Add(ctx, silence.Silence{Matchers: []string{"task=t1"}, End: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	reader, err := broker.ReaderCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var refused []string
	nc, err := nats.Connect(b.ClientURL(), nats.UserInfo(reader.User, reader.Password.Reveal()),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				mu.Lock()
				refused = append(refused, err.Error())
				mu.Unlock()
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	isRefused := func(subject string) bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.ContainsFunc(refused, func(e string) bool { return strings.Contains(e, `"`+subject+`"`) })
	}

	kvSubject := "$KV." + silence.DefaultBucket + "."
	stream := "KV_" + silence.DefaultBucket
	forged := `{"id":"forged","match":["task=*"],"start":"2026-01-01T00:00:00Z","end":"2099-01-01T00:00:00Z","created_at":"2026-01-01T00:00:00Z"}`
	tries := []struct {
		name, subject string
		hdr           nats.Header
	}{
		{"add a silence", kvSubject + "s.forged", nil},
		{"remove a silence", kvSubject + "s." + kept.ID, nats.Header{"KV-Operation": []string{"PURGE"}}},
		{"forge a catch-up record", kvSubject + "h.x.p.t", nil},
		{"purge the bucket", "$JS.API.STREAM.PURGE." + stream, nil},
		{"delete the bucket", "$JS.API.STREAM.DELETE." + stream, nil},
		{"delete a silence's message", "$JS.API.STREAM.MSG.DELETE." + stream, nil},
		{"open the bucket", "$JS.API.STREAM.INFO." + stream, nil},
	}
	for _, tt := range tries {
		t.Run(tt.name, func(t *testing.T) {
			m := &nats.Msg{Subject: tt.subject, Reply: nc.NewInbox(), Data: []byte(forged), Header: tt.hdr}
			if err := nc.PublishMsg(m); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, "the server to refuse "+tt.subject, func() bool { return isRefused(tt.subject) })
		})
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// Refused, the request has no answer: a short wait is enough to fail.
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := silence.Open(short, js, silence.DefaultBucket, 1, nil); err == nil {
		t.Error("the reader opened the silences' bucket")
	}

	list, err := st.List(ctx)
	if err != nil || !slices.Equal(ids(list), []string{kept.ID}) {
		t.Errorf("silences after the reader's tries: %v, %v; want only %s", ids(list), err, kept.ID)
	}
}
