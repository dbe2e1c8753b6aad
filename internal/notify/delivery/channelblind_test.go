package delivery

import (
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/testutil/slackapi"
)

// apiBlip is the watch_degraded (or, with recovered, the watch_recovered)
// of API blindness episode seq, observed at.
func apiBlip(recovered bool, seq uint64, at time.Time) notify.Envelope {
	ev := diff.Degraded("", "server_error", "HTTP 500", nil, seq)
	if recovered {
		ev = diff.Recovered("", "server_error", nil, seq)
	}
	return notify.Build(prefix, ev, notify.Meta{Region: "cn-north-4", ProjectID: project, ObservedAt: at})
}

// TestBotAPIBlipThreaded: in bot mode an API blip is one incident: its
// watch_degraded is a top-level message, its watch_recovered a reply in
// that message's thread, which is redrawn to say it has ended; also when
// the recovery comes after a restart. A second blip is a second message.
func TestBotAPIBlipThreaded(t *testing.T) {
	js := startJetStream(t)
	f := newFakeAPI(t)
	t0 := observed()
	first, firstEnd := apiBlip(false, 1, t0), apiBlip(true, 1, t0.Add(3*time.Minute))
	second, secondEnd := apiBlip(false, 2, t0.Add(10*time.Minute)), apiBlip(true, 2, t0.Add(11*time.Minute))
	publish(t, js, first)
	r := startNotifier(t, js, nil, botOptions(f, oncall))
	r.drained(t)
	r.stop(t)
	publish(t, js, firstEnd, second, secondEnd)
	startNotifier(t, js, nil, botOptions(f, oncall)).drained(t)

	top := f.TopLevel(oncall)
	if len(top) != 2 {
		t.Fatalf("top-level messages = %d, want 2 (one per blip): %v", len(top), texts2(top))
	}
	for i, want := range [][2]string{{first.ID, firstEnd.ID}, {second.ID, secondEnd.ID}} {
		m := top[i]
		if id, part := m.EventID(); id != want[0] || part != partTop {
			t.Errorf("top-level %d: metadata %s/%s, want %s/top (its watch_degraded)", i, id, part, want[0])
		}
		if ids := replyIDs(f, oncall, m.TS); len(ids) != 1 || ids[0] != want[1] {
			t.Errorf("blip %d: thread %v %v, want its watch_recovered %s alone", i, ids, texts2(f.Replies(oncall, m.TS)), want[1])
		}
		if m.Updates != 1 || !strings.Contains(unescapeJSON(m.Blocks), "recovered at") {
			t.Errorf("blip %d: updated %d times, blocks %s; want it redrawn once to say it recovered", i, m.Updates, m.Blocks)
		}
	}
}

func texts2(ms []slackapi.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}
