package e2e

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/silence"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackapi"
)

// The simulated timeline of TestIncidentsAtScale (offsets from t0; a cycle
// every scaleCycle).
const (
	scaleCycle   = 15 * time.Second
	scaleEnd     = 12 * time.Minute
	scaleRestart = 8*time.Minute + 30*time.Second // inside the second blip
	silenceEnds  = 10 * time.Minute
)

// scaleScenario is 200 tasks in full sync, their progress moving, but for:
// cache-000, -001, -002 failing at 1m30s, 4m and 5m (with ERROR lines;
// -002 under a silence until 10m); cache-003 flapping between
// INCRMIGEATING and FAILED seven times; cache-004 in incremental sync, its
// lag growing from 1m to 9m, then caught up; cache-005's full sync stuck
// at 40% from 1m until 7m; the API failing for 40 s at 2m (500s) and at
// 8m (429s).
func scaleScenario() string {
	return botTasksYAML(func(i int) string {
		switch {
		case i < 3:
			at := []string{"1m30s", "4m", "5m"}[i]
			return fmt.Sprintf(`      - at: %s
        status: FAILED
        error_message: "source refused"
        progress: {kbps: 0, migrating: false}
        logs:
          - {level: ERROR, message: "Failed to connect to the source Redis 10.0.0.1:6379: connection refused.", code: DCS.MIG.1001}
          - {level: ERROR, after: 1s, message: "Full synchronization aborted (cache-%03d).", code: DCS.MIG.1003}
`, at, i)
		case i == 3:
			var b strings.Builder
			for k, at := range []string{"1m", "3m", "3m30s", "4m30s", "6m", "7m", "9m30s"} {
				fmt.Fprintf(&b, "      - {at: %s, status: %s}\n", at, []string{"INCRMIGEATING", "FAILED"}[k%2])
			}
			return b.String()
		case i == 4:
			return `      - {at: 1s, status: INCRMIGEATING, progress: {percent: 100, lag: 0}}
      - {at: 1m, progress: {lag: {from: 0, to: 120000, over: 8m}}}
      - {at: 9m, progress: {lag: {from: 120000, to: 0, over: 1m}}}
`
		case i == 5:
			return `      - {at: 1s, progress: {percent: {from: 0, to: 40, over: 1m}, source_dbsize: 1000000, kbps: 1024}}
      - {at: 7m, progress: {percent: {from: 40, to: 100, over: 4m}}}
`
		}
		return "      - {at: 1s, progress: {percent: {from: 0, to: 90, over: 20m}, source_dbsize: 1000000, kbps: 1024}}\n"
	}) + `faults:
  - {at: 2m, for: 40s, kind: server_error, task: ""}
  - {at: 8m, for: 40s, kind: throttle, task: ""}
`
}

// TestIncidentsAtScale is issue 17's scenario in bot mode: 200 tasks over
// 12 minutes of simulated time with 3 failures (one silenced), a stalled
// full sync, a growing lag, a flapping task, 2 API blips and a restart
// (inside the second blip). The channel must show one top-level message
// per incident and everything else in that message's thread. It takes
// about 16 s (49 cycles; -race included).
func TestIncidentsAtScale(t *testing.T) {
	fake := slackapi.New(t, botSecret, map[string]string{"#oncall": botChannel})
	h := newHarness(t, scaleScenario(), func(c *config.Config) {
		c.Slack.WebhookURL = ""
		c.Slack.Channel, c.Slack.BotToken, c.Slack.APIURL = botChannel, secret.Secret(botSecret), fake.URL()
		c.Slack.Rate = 10
		c.Attention.StallAfter = 3 * time.Minute
		c.Attention.LagGrowingFor = 3 * time.Minute
	})
	st, err := silence.Open(h.ctx, h.app.Broker.JS, h.cfg.Slack.SilencesBucket, 1, h.clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	sil, err := st.Add(h.ctx, silence.Silence{Matchers: []string{"name=cache-002"}, End: h.t0.Add(silenceEnds), Comment: "source being rebuilt"})
	if err != nil {
		t.Fatal(err)
	}
	probe := notify.Data{Kind: diff.StatusChanged, ProjectID: botProject, TaskName: "cache-002", Outcome: dcs.OutcomeFailed}
	testutil.Eventually(t, "the watcher to see the silence", func() bool {
		_, ok := h.app.Silences.Silenced(probe, h.t0)
		return ok
	})

	for at := time.Duration(0); at <= scaleEnd; at += scaleCycle {
		if at == scaleRestart {
			h.restart()
		}
		_, _ = h.cycleAt(at) // the blips fail their cycles
		if at >= silenceEnds {
			if _, err := h.app.CatchUp(h.ctx); err != nil {
				t.Logf("catch-up at %s: %v", at, err)
			}
		}
	}
	testutil.EventuallyWithin(t, time.Minute, "the Slack notifier to take every event", func() bool {
		pending, err := h.app.Slack.Pending(h.ctx)
		return err == nil && pending == 0
	})

	checkIncidents(t, fake, sil.ID)
}

// incidentNames are the incidents of scaleScenario, by the task their
// messages name.
var incidentNames = map[string]string{
	"cache-000": "failure cache-000",
	"cache-001": "failure cache-001",
	"cache-002": "failure cache-002, silenced: its catch-up",
	"cache-003": "flapping cache-003",
	"cache-004": "lag growing cache-004",
	"cache-005": "stalled full sync cache-005",
}

// checkIncidents counts, per incident, the top-level messages of the
// channel and the replies in their threads, logs the table, and checks
// one top-level message each and no message outside their threads.
func checkIncidents(t *testing.T, fake *slackapi.Server, silenceID string) {
	t.Helper()
	type count struct{ top, replies int }
	counts := map[string]*count{}
	blips := 0
	inThreads := 0
	for _, m := range fake.TopLevel(botChannel) {
		name := incidentNames[regexp.MustCompile(`cache-\d{3}`).FindString(m.Text)]
		switch {
		case name != "":
		case strings.Contains(m.Text, "DCS API"):
			blips++
			name = fmt.Sprintf("API blip %d", blips)
		default:
			name = "not an incident: " + m.Text
		}
		if counts[name] == nil {
			counts[name] = &count{}
		}
		replies := fake.Replies(botChannel, m.TS)
		counts[name].top++
		counts[name].replies += len(replies)
		inThreads += len(replies)
		shown := m.Text + unescape(m.Blocks) + texts(replies)
		if name == incidentNames["cache-002"] && !strings.Contains(unescape(m.Blocks), "held back by silence "+silenceID) {
			t.Errorf("the card the silence's catch-up opened does not say silence %s held it back:\n%s", silenceID, unescape(m.Blocks))
		}
		if strings.HasPrefix(name, "failure") && !strings.Contains(shown, "Failed to connect to the source Redis") {
			t.Errorf("%s: neither the card nor its thread shows the failure's ERROR log lines:\n%s", name, shown)
		}
	}
	var names []string
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	var table strings.Builder
	fmt.Fprintf(&table, "%-45s %9s %14s\n", "incident", "top-level", "thread replies")
	for _, n := range names {
		fmt.Fprintf(&table, "%-45s %9d %14d\n", n, counts[n].top, counts[n].replies)
	}
	all := 0
	for _, m := range fake.Messages() {
		if m.Channel == botChannel {
			all++
		}
	}
	fmt.Fprintf(&table, "messages in the channel: %d (%d top-level, %d in their threads)", all, len(fake.TopLevel(botChannel)), inThreads)
	t.Logf("messages per incident:\n%s", table.String())

	want := append(mapsValues(incidentNames), "API blip 1", "API blip 2")
	for _, n := range want {
		if c := counts[n]; c == nil || c.top != 1 {
			t.Errorf("%s: %v top-level messages, want 1", n, c)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("%d incidents in the channel, want %d: %v", len(counts), len(want), names)
	}
	if all != len(fake.TopLevel(botChannel))+inThreads {
		t.Errorf("%d messages in the channel, %d of them neither top-level nor in a top-level's thread", all, all-len(fake.TopLevel(botChannel))-inThreads)
	}
	for n, min := range map[string]int{
		"flapping cache-003": 6, "lag growing cache-004": 1, "stalled full sync cache-005": 1, "API blip 1": 1, "API blip 2": 1,
	} {
		if c := counts[n]; c != nil && c.replies < min {
			t.Errorf("%s: %d thread replies, want at least %d", n, c.replies, min)
		}
	}
}

func mapsValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func texts(ms []slackapi.Message) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.Text + unescape(m.Blocks) + "\n")
	}
	return b.String()
}
