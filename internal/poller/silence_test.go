package poller_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/poller"
	"github.com/dcs-watcher/watcher/internal/silence"
)

const failingTask = "[{at: 0s, status: MIGRATING}, {at: 5s, status: MIGRATION_FAILED}]"

// TestSilencedEventsMarked: an event a silence matches is still
// published, marked data.silenced with the silence's id, in the stream's
// body as in the hook; the others are not marked; the event ids are those
// of the same run without the silence.
func TestSilencedEventsMarked(t *testing.T) {
	silenced := runSilenced(t, true)
	plain := runSilenced(t, false)
	if got := summary(silenced); !slices.Equal(got, []string{"t1:discovered", "t1:status_changed"}) {
		t.Fatalf("published %v", got)
	}
	if silenced[0].Data.Silenced != "" {
		t.Errorf("the discovery (in progress) was marked %q", silenced[0].Data.Silenced)
	}
	for i := range silenced {
		if silenced[i].ID != plain[i].ID {
			t.Errorf("event %d: id %s with the silence, %s without: the mark changed the id", i, silenced[i].ID, plain[i].ID)
		}
		if plain[i].Data.Silenced != "" {
			t.Errorf("event %d marked %q without a silence", i, plain[i].Data.Silenced)
		}
	}
}

// runSilenced runs the failing task over two cycles, with a silence of
// its failures when withSilence, and returns the events published, the
// failure checked on the stream.
func runSilenced(t *testing.T, withSilence bool) []notify.Envelope {
	t.Helper()
	e := newEnv(t, oneTask(failingTask), nil)
	o := poller.Options{Discover: true}
	var id string
	if withSilence {
		st, err := silence.Open(e.ctx, e.connect(), "silences", 1, e.clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		s, err := st.Add(e.ctx, silence.Silence{Matchers: []string{"task=t1", "outcome=failed"}, End: e.t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		set, err := st.Watch(e.ctx, nil, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		id, o.Silencer = s.ID, set
	}
	w := e.newWatcher(o)
	for _, at := range []time.Duration{0, 5 * time.Second} {
		if _, err := w.cycleAt(at); err != nil {
			t.Fatal(err)
		}
	}
	evs := w.take()
	if len(evs) != 2 || evs[1].Data.Silenced != id {
		t.Fatalf("published %v, the failure marked %q; want it marked %q", summary(evs), evs[len(evs)-1].Data.Silenced, id)
	}
	s, err := e.js.Stream(e.ctx, streamName)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetLastMsgForSubject(e.ctx, filter("t1", "status_changed"))
	if err != nil {
		t.Fatalf("the failure is not on the stream: %v", err)
	}
	var body notify.Envelope
	if err := json.Unmarshal(msg.Data, &body); err != nil {
		t.Fatal(err)
	}
	if body.Data.Silenced != id || body.ID != evs[1].ID {
		t.Errorf("stream holds event %s marked %q, want %s marked %q", body.ID, body.Data.Silenced, evs[1].ID, id)
	}
	return evs
}
