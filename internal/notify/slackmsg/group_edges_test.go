package slackmsg

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// TestGroupObservedOneSecond: a group whose events came within one second
// (as a burst does) says when once, not "observed X to X" with the same
// X; events in different seconds still give the range.
func TestGroupObservedOneSecond(t *testing.T) {
	at := func(i int, t time.Time) notify.Envelope {
		e := envelope(fmt.Sprintf("ev-%d", i), diff.StatusChanged, burstTask(i, "FULLMIGRATING"), burstTask(i, "INCRMIGEATING"), 0)
		e.Time = t
		return e
	}
	t0 := time.Date(2026, 3, 1, 1, 4, 20, 100e6, time.UTC)
	for _, tc := range []struct {
		second time.Time
		want   string
	}{
		{t0.Add(700 * time.Millisecond), "observed 2026-03-01T01:04:20Z"},
		{t0.Add(time.Second), "observed 2026-03-01T01:04:20Z to 2026-03-01T01:04:21Z"},
	} {
		msg := RenderGroup([]notify.Envelope{at(0, t0), at(1, tc.second)})[0].Msg
		all := texts(msg)
		if !strings.Contains(all, tc.want+"\n") && !strings.HasSuffix(all, tc.want) {
			t.Errorf("group of %s and %s: context lacks %q:\n%s", t0, tc.second, tc.want, all)
		}
		if strings.Contains(all, "-&gt;") || !strings.Contains(msg.Text, "2 migration tasks -> INCRMIGEATING") {
			t.Errorf("fallback text %q: want the arrow unescaped", msg.Text)
		}
	}
}
