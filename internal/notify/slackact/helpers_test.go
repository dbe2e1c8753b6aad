package slackact

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/notify/slackmsg/slackmsgtest"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackapi"
	"github.com/dcs-watcher/watcher/internal/testutil/slacksocket"
)

// Tokens planted so that a test can look for them in every output.
const (
	appToken = "xapp-1-A0WATCHER-planted-app-secret"
	botToken = "xoxb-planted-bot-secret"
	channel  = "C0ONCALL"
)

// rig is a failed task's card posted in the fake Slack, the fake Socket
// Mode endpoint, and the actions bucket on an embedded JetStream.
type rig struct {
	api  *slackapi.Server
	sock *slacksocket.Server
	js   jetstream.JetStream
	kv   jetstream.KeyValue
	card *slackmsg.Card
	ts   string // the card's
	// drawn is the card as first posted: a double click presses the
	// buttons the user's screen showed, before any redraw.
	drawn slackapi.Message
	logs  *testutil.SyncBuffer
	draw  *cardRedraw
}

func newRig(t *testing.T) *rig {
	t.Helper()
	srv := testutil.RunJetStream(t, -1, t.TempDir())
	_, js := testutil.Connect(t, srv.ClientURL())
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "actions"})
	if err != nil {
		t.Fatal(err)
	}
	g := &rig{api: slackapi.New(t, botToken, map[string]string{"#oncall": channel}), js: js, kv: kv, logs: &testutil.SyncBuffer{}}
	g.sock = slacksocket.New(t, g.api, appToken)
	g.card = &slackmsg.Card{}
	g.card.Apply(slackmsgtest.Move("ev-1", "task-1", "orders-cache", "INCRMIGEATING", "FAILED", slackmsgtest.Observed(), time.Hour))
	msg := slackmsg.RenderCardWith(g.card, slackmsg.Attention{Buttons: true})
	_, g.ts, err = g.slack().PostMessage(channel, slack.MsgOptionText(msg.Text, false), slack.MsgOptionBlocks(msg.Blocks.BlockSet...))
	if err != nil {
		t.Fatal(err)
	}
	g.draw = &cardRedraw{g: g}
	g.drawn = g.cardMessage(t)
	t.Cleanup(func() {
		for _, secret := range []string{appToken, botToken} {
			if strings.Contains(g.logs.String(), secret) {
				t.Errorf("a token reached the log:\n%s", g.logs)
			}
		}
	})
	return g
}

func (g *rig) slack() *slack.Client { return slack.New(botToken, slack.OptionAPIURL(g.api.URL())) }

// listener starts a Listener on the rig (edit adjusts its options) and
// waits until its socket is up.
func (g *rig) listener(t *testing.T, edit func(*Options)) *Listener {
	t.Helper()
	o := Options{AppToken: appToken, BotToken: botToken, APIURL: g.api.URL(), Bucket: g.kv, Redraw: g.draw,
		Logger: zerolog.New(g.logs), MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	if edit != nil {
		edit(&o)
	}
	l := New(o)
	if g.draw.l == nil {
		g.draw.l = l
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	testutil.Eventually(t, "the socket up", l.Connected)
	return l
}

// card is the card as the fake Slack holds it now.
func (g *rig) cardMessage(t *testing.T) slackapi.Message {
	t.Helper()
	for _, m := range g.api.Messages() {
		if m.TS == g.ts {
			return m
		}
	}
	t.Fatalf("card %s not in the fake", g.ts)
	return slackapi.Message{}
}

// click presses the button action of the card as first drawn, as user
// (on connection n of the socket, -1: the newest), and returns the
// envelope id.
func (g *rig) click(t *testing.T, n int, user, action string) string {
	t.Helper()
	m := g.drawn
	value, ok := buttonValue(m.Blocks, action)
	if !ok {
		t.Fatalf("the card has no %s button; it shows %s", action, m.Blocks)
	}
	id, err := g.sock.ClickOn(n, slacksocket.Click{User: user, UserName: strings.ToLower(user), ActionID: action, Value: value,
		BlockID: slackmsg.ActionsBlockID, Channel: channel, MessageTS: g.ts, Text: m.Text, Blocks: m.Blocks})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// buttonValue is the value of the button action of blocks.
func buttonValue(blocks json.RawMessage, action string) (string, bool) {
	var set []struct {
		Type     string `json:"type"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if json.Unmarshal(blocks, &set) != nil {
		return "", false
	}
	for _, b := range set {
		for _, e := range b.Elements {
			if b.Type == "actions" && e.ActionID == action {
				return e.Value, true
			}
		}
	}
	return "", false
}

// waitAcked waits for the ack of envelope id and returns how long after
// the push it came.
func (g *rig) waitAcked(t *testing.T, id string) time.Duration {
	t.Helper()
	var ack slacksocket.Ack
	testutil.Eventually(t, "the ack of "+id, func() bool {
		var ok bool
		ack, ok = g.sock.AckOf(id)
		return ok
	})
	sent, _ := g.sock.SentAt(id)
	return ack.At.Sub(sent)
}

// cardRedraw redraws the rig's card as the Slack delivery does: what the
// Store says of the clicks, rendered by RenderCardWith, through
// chat.update.
type cardRedraw struct {
	g *rig
	l *Listener // whose CardAttention it draws
	n atomic.Int64
}

func (d *cardRedraw) Redraw(ctx context.Context, c CardRef) error {
	d.n.Add(1)
	if c.Project != d.g.card.Project || c.TaskID != d.g.card.TaskID || c.Incident != slackmsg.Incident(d.g.card) {
		return fmt.Errorf("redraw of %+v: not the rig's card", c)
	}
	a, err := d.l.CardAttention(ctx, d.g.card)
	if err != nil {
		return err
	}
	msg := slackmsg.RenderCardWith(d.g.card, a)
	_, _, _, err = d.g.slack().UpdateMessageContext(ctx, c.Channel, c.TS, slack.MsgOptionText(msg.Text, false), slack.MsgOptionBlocks(msg.Blocks.BlockSet...))
	return err
}

// silences is a silence store as the Silencer interface sees one: it
// keeps what it was asked.
type silences struct {
	mu    sync.Mutex
	added []silenceAdd
}

type silenceAdd struct {
	m       notify.Match
	d       time.Duration
	comment string
	by      string
}

func (s *silences) Add(_ context.Context, m notify.Match, d time.Duration, comment, by string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.added = append(s.added, silenceAdd{m, d, comment, by})
	return "sil-" + string(rune('a'+len(s.added)-1)), nil
}

func (s *silences) calls() []silenceAdd {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]silenceAdd(nil), s.added...)
}

// logLines is a failed task's log tail, newest first.
func logLines() []dcs.LogEntry {
	at := slackmsgtest.Observed()
	return []dcs.LogEntry{
		{Time: at, Level: "ERROR", Message: "connect to source 10.0.0.5:6379: auth <secret> refused", Code: "DCS.M0042"},
		{Time: at.Add(-time.Minute), Level: "ERROR", Message: "full sync aborted at 63%"},
	}
}
