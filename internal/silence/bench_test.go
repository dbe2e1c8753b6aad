package silence_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/silence"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// BenchmarkSilenced is the cost the poller pays per event: 100 silences
// that do not match, two windows, one of them active.
func BenchmarkSilenced(b *testing.B) {
	srv := testutil.RunJetStream(b, -1, b.TempDir())
	_, js := testutil.Connect(b, srv.ClientURL())
	st, err := silence.Open(b.Context(), js, bucket, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := range 100 {
		if _, err := st.Add(b.Context(), silence.Silence{Matchers: []string{fmt.Sprintf("name=batch-%d-*", i)}, Start: now, End: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	var windows []silence.Window
	for _, spec := range []string{"CRON_TZ=UTC 0 2 * * *", "@every 1m"} {
		w, err := silence.NewWindow(fmt.Sprint(len(windows)), spec, 30*time.Second, notify.Match{TaskName: "nothing-*"})
		if err != nil {
			b.Fatal(err)
		}
		windows = append(windows, w)
	}
	set, err := st.Watch(b.Context(), windows, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	ev := failed("orders-eu")
	b.ResetTimer()
	for b.Loop() {
		if _, ok := set.Silenced(ev, now); ok {
			b.Fatal("silenced")
		}
	}
}
