// Package slackmsgtest holds the fixtures of the Slack tests: events as
// the publisher builds them, and readers of a rendered message's texts.
// The rendering tests and the delivery tests share them.
package slackmsgtest

import (
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// The project and subject prefix of every fixture event.
const (
	Project = "254d3b7f0a6c4e1f9a8b7c6d5e4f3a2b"
	Prefix  = "dcs.migration"
)

// Task is a task named name in status, with a source and a target.
func Task(name, status string) *dcs.Task {
	return &dcs.Task{
		ID:     "a1b2c3d4-0000-4000-8000-000000000001",
		Name:   name,
		Status: status,
		Source: dcs.Instance{Name: "redis-src", Addrs: "192.168.0.10:6379", PasswordSet: true},
		Target: dcs.Instance{Name: "redis-dst", Addrs: "192.168.0.20:6379", PasswordSet: true},
	}
}

// Observed is when the fixture events are observed.
func Observed() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

// Envelope builds an envelope as the publisher does; prevFor is how long
// the previous status was seen.
func Envelope(id string, kind diff.Kind, prev, curr *dcs.Task, prevFor time.Duration) notify.Envelope {
	ev := diff.Event{ID: id, Kind: kind, Prev: prev, Curr: curr}
	switch {
	case curr != nil:
		ev.TaskID = curr.ID
	case prev != nil:
		ev.TaskID = prev.ID
	}
	m := notify.Meta{Region: "cn-north-4", ProjectID: Project, ObservedAt: Observed()}
	if prevFor > 0 {
		m.PrevStatusSince = Observed().Add(-prevFor)
	}
	return notify.Build(Prefix, ev, m)
}

// StatusChanged is a status_changed of task name from one status to
// another.
func StatusChanged(id, name, from, to string) notify.Envelope {
	return Envelope(id, diff.StatusChanged, Task(name, from), Task(name, to), 3*time.Minute+12*time.Second)
}

// BurstTask is task i of a burst, with a name and an id of its own.
func BurstTask(i int, status string) *dcs.Task {
	t := Task(fmt.Sprintf("task-%03d", i), status)
	t.ID = fmt.Sprintf("a1b2c3d4-0000-4000-8000-%012d", i)
	return t
}

// BurstEvent is the status change of task i of a burst.
func BurstEvent(i int, from, to string) notify.Envelope {
	return Envelope(fmt.Sprintf("ev-%03d-%s", i, to), diff.StatusChanged, BurstTask(i, from), BurstTask(i, to), time.Minute)
}

// NewLogger is a debug logger into a buffer the test reads.
func NewLogger() (zerolog.Logger, *testutil.SyncBuffer) {
	buf := &testutil.SyncBuffer{}
	return zerolog.New(buf).Level(zerolog.DebugLevel), buf
}

// Move is a status change of task taskID observed at, after prevFor in
// from; a move to FAILED carries an error message.
func Move(id, taskID, name, from, to string, at time.Time, prevFor time.Duration) notify.Envelope {
	prev, curr := Task(name, from), Task(name, to)
	prev.ID, curr.ID = taskID, taskID
	if to == "FAILED" {
		curr.ErrorMessage = "source <unreachable> & auth failed"
	}
	m := notify.Meta{Region: "cn-north-4", ProjectID: Project, ObservedAt: at, PrevStatusSince: at.Add(-prevFor)}
	return notify.Build(Prefix, diff.Event{ID: id, Kind: diff.StatusChanged, TaskID: taskID, Prev: prev, Curr: curr}, m)
}

// Texts joins every text of a message, for "does it say X" checks.
func Texts(msg slack.WebhookMessage) string {
	var b strings.Builder
	b.WriteString(msg.Text)
	if msg.Blocks == nil {
		return b.String()
	}
	for _, blk := range msg.Blocks.BlockSet {
		switch v := blk.(type) {
		case *slack.HeaderBlock:
			b.WriteString("\n" + v.Text.Text)
		case *slack.SectionBlock:
			if v.Text != nil {
				b.WriteString("\n" + v.Text.Text)
			}
			for _, f := range v.Fields {
				b.WriteString("\n" + f.Text)
			}
		case *slack.ContextBlock:
			for _, el := range v.ContextElements.Elements {
				if tx, ok := el.(*slack.TextBlockObject); ok {
					b.WriteString("\n" + tx.Text)
				}
			}
		}
	}
	return b.String()
}

// HeaderText is the text of a message's header block, "" without one.
func HeaderText(msg slack.WebhookMessage) string {
	if msg.Blocks != nil {
		for _, blk := range msg.Blocks.BlockSet {
			if h, ok := blk.(*slack.HeaderBlock); ok {
				return h.Text.Text
			}
		}
	}
	return ""
}
