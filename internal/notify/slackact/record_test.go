package slackact

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestClaim: a claim of the same incident is a repeat (for ever, or
// within its window), a newer incident replaces the record, and a
// released claim can be taken again; the acknowledgement of an old
// incident is not the current one's.
func TestClaim(t *testing.T) {
	g := newRig(t)
	s, ctx := Store{KV: g.kv}, context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	key := Key(kindAck, "p1", "t/1")
	if strings.ContainsAny(strings.TrimPrefix(key, "ack."), "/ ") {
		t.Fatalf("key %q holds characters KV refuses", key)
	}
	first, _, err := s.claim(ctx, key, Record{Incident: "FAILED@1", By: "U1", At: t0}, 0)
	if err != nil || first == 0 {
		t.Fatalf("first claim: rev %d, %v", first, err)
	}
	rev, prev, err := s.claim(ctx, key, Record{Incident: "FAILED@1", By: "U2", At: t0.Add(time.Hour)}, 0)
	if err != nil || rev != 0 || prev == nil || prev.By != "U1" {
		t.Fatalf("repeat: rev %d, prev %+v, %v; want the first claim to stand", rev, prev, err)
	}
	if rev, _, _ = s.claim(ctx, key, Record{Incident: "FAILED@2", By: "U2", At: t0.Add(2 * time.Hour)}, 0); rev == 0 {
		t.Fatal("a new incident did not replace the old one's record")
	}
	if old, _ := s.Acknowledged(ctx, "p1", "t/1", "FAILED@1"); old != nil {
		t.Errorf("the old incident reads as acknowledged: %+v", old)
	}
	if now, _ := s.Acknowledged(ctx, "p1", "t/1", "FAILED@2"); now == nil || now.By != "U2" {
		t.Errorf("the new incident's acknowledgement: %+v", now)
	}
	logKey := Key(kindLog, "p1", "t/1")
	if r, _, _ := s.claim(ctx, logKey, Record{Incident: "FAILED@2", At: t0}, logAgain); r == 0 {
		t.Error("first Show log not claimed")
	}
	if r, _, _ := s.claim(ctx, logKey, Record{Incident: "FAILED@2", At: t0.Add(logAgain / 2)}, logAgain); r != 0 {
		t.Error("a second Show log within the window was claimed")
	}
	if r, _, _ := s.claim(ctx, logKey, Record{Incident: "FAILED@2", At: t0.Add(logAgain)}, logAgain); r == 0 {
		t.Error("Show log after the window was refused")
	}
	silKey := Key(kindSilence, "p1", "t/1")
	r, _, _ := s.claim(ctx, silKey, Record{Incident: "FAILED@2", At: t0}, slackmsg.SilenceFor)
	if err := s.release(ctx, silKey, r); err != nil {
		t.Fatal(err)
	}
	if r, _, err := s.claim(ctx, silKey, Record{Incident: "FAILED@2", At: t0}, slackmsg.SilenceFor); r == 0 || err != nil {
		t.Errorf("a released claim was not taken again: rev %d, %v", r, err)
	}
}

// failingSilences refuses the first silence, then takes them.
type failingSilences struct {
	mu sync.Mutex
	n  int
}

func (f *failingSilences) Add(context.Context, notify.Match, time.Duration, string, string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if f.n == 1 {
		return "", errors.New("silence store unreachable")
	}
	return "sil-ok", nil
}

// TestFailedActionRetried: a silence the store refuses is not recorded:
// the user is told why, and the next click silences; a log the API
// cannot give is told too.
func TestFailedActionRetried(t *testing.T) {
	g := newRig(t)
	sil := &failingSilences{}
	l := g.listener(t, func(o *Options) {
		o.Silencer = sil
		o.LogTail = func(context.Context, string, string) ([]dcs.LogEntry, error) {
			return nil, errors.New("show logs of task-1: throttled")
		}
	})
	g.waitAcked(t, g.click(t, -1, "U0ANA", slackmsg.ActionSilence))
	testutil.Eventually(t, "the failure told", func() bool { return l.Stats().Failed == 1 && len(g.api.Ephemerals()) == 1 })
	if e := g.api.Ephemerals()[0]; e.User != "U0ANA" || !strings.Contains(e.Text, "silence store unreachable") {
		t.Errorf("ephemeral %+v, want U0ANA told why", e)
	}
	g.waitAcked(t, g.click(t, -1, "U0ANA", slackmsg.ActionSilence))
	testutil.Eventually(t, "the silence on the second click", func() bool { return l.Stats().Done == 1 })
	a, err := Store{KV: g.kv}.Attention(context.Background(), g.card.Project, g.card.TaskID, slackmsg.Incident(g.card), time.Now())
	if err != nil || a.SilenceID != "sil-ok" {
		t.Errorf("attention %+v, %v; want sil-ok", a, err)
	}
	g.waitAcked(t, g.click(t, -1, "U0ANA", slackmsg.ActionShowLog))
	testutil.Eventually(t, "the log failure told", func() bool { return l.Stats().Failed == 2 && len(g.api.Ephemerals()) == 2 })
	if n := len(g.api.Replies(channel, g.ts)); n != 0 {
		t.Errorf("%d replies for a log that could not be read", n)
	}
}
