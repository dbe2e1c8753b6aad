package e2e

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackapi"
)

const (
	botProject = "254d2280acb74d36a8b839746bcd7352"
	botSecret  = "xoxb-PLANTED-bot-token"
	botChannel = "C0ONCALL"
	botTasks   = 200
	flaps      = 6 // FULLMIGRATING <-> INCRMIGEATING changes of the flapping task
)

// botScenario is 200 tasks, quiet but for 3 failures, 1 task flapping
// between FULLMIGRATING and INCRMIGEATING, and two API blips of 3 s (500s
// at 9 s, 429s at 17 s); every change is at least a second away from a
// blip, so that each is seen.
func botScenario(t *testing.T) string {
	return testutil.WriteFile(t, "scenario.yaml", botTasksYAML(func(i int) string {
		var b strings.Builder
		switch {
		case i < 3:
			fmt.Fprintf(&b, "      - {at: %ds, status: FAILED, error_message: \"<!channel> source refused\"}\n", []int{8, 14, 22}[i])
		case i == 3:
			st := []string{"INCRMIGEATING", "FULLMIGRATING"}
			for k := range flaps {
				fmt.Fprintf(&b, "      - {at: %ds, status: %s}\n", []int{5, 7, 13, 15, 21, 23}[k], st[k%2])
			}
		}
		return b.String()
	})+"faults:\n  - {at: 9s, for: 3s, kind: server_error, task: \"\"}\n  - {at: 17s, for: 3s, kind: throttle, task: \"\"}\n")
}

// botTasksYAML is the simulator's tasks of the bot tests: botTasks tasks
// in FULLMIGRATING from 0 s, each with the steps that steps(i) adds.
func botTasksYAML(steps func(i int) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "project_id: %s\ntasks:\n", botProject)
	for i := range botTasks {
		fmt.Fprintf(&b, "  - id: task-%03d\n    name: cache-%03d\n", i, i)
		b.WriteString("    source: {name: src, addrs: \"10.0.0.1:6379\", password: PLANTED-redis-pass}\n")
		b.WriteString("    target: {name: dst, addrs: \"10.0.0.2:6379\", password: PLANTED-redis-pass}\n")
		b.WriteString("    steps:\n      - {at: 0s, status: FULLMIGRATING}\n")
		b.WriteString(steps(i))
	}
	return b.String()
}

// TestBotModeAcceptance runs the real binary in bot mode against the
// simulator and a fake Slack Web API, kills it half-way and starts it
// again, and checks what the channel shows: at most one top-level message
// (the card) per task that changed, a reply in its thread per later
// transition, nothing for the API blips (degraded_for 2m), nothing for the
// 196 quiet tasks.
func TestBotModeAcceptance(t *testing.T) {
	testutil.Long(t, "runs the binary for about 30 s")
	bin := watcherBinary(t)
	fake := slackapi.New(t, botSecret, map[string]string{"#oncall": botChannel})
	simURL := startSimChild(t, bin, "--scenario", botScenario(t))
	data := t.TempDir()
	cfg := fmt.Sprintf(`log: {level: info, format: json}
data_dir: %q
dcs: {endpoint: %q, project_id: %q, rate_limit: 1000, concurrency: 8, timeout: 5s}
poll: {schedule: "@every 1s", discover: true, detail: on_change}
nats: {listen: "127.0.0.1:0", duplicate_window: 1h}
slack: {enabled: true, channel: %s, api_url: %q, rate: 10, min_retry_delay: 200ms, max_retry_delay: 2s, timeout: 5s}
`, data, simURL, botProject, botChannel, fake.URL())
	cfgPath := testutil.WriteFile(t, "watcher.yaml", cfg)
	env := childEnv("HUAWEICLOUD_SDK_AK="+plantedAK, "HUAWEICLOUD_SDK_SK="+plantedSK, "WATCHER_SLACK_BOT_TOKEN="+botSecret)
	logs := &testutil.SyncBuffer{}
	w := startWatcher(t, bin, cfgPath, env, logs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("top level %d, calls %d; logs:\n%s", len(fake.TopLevel(botChannel)), len(fake.Calls("")), tail(logs.String(), 4000))
		}
	})

	flapper := func() (card slackapi.Message, replies int) {
		for _, m := range fake.TopLevel(botChannel) {
			if strings.Contains(unescape(m.Blocks), "cache-003") {
				return m, len(fake.Replies(botChannel, m.TS))
			}
		}
		return slackapi.Message{}, 0
	}
	testutil.EventuallyWithin(t, 40*time.Second, "the flapping task's thread to have 2 replies", func() bool {
		_, n := flapper()
		return n >= 2
	})
	w.kill()
	w = startWatcher(t, bin, cfgPath, env, logs)
	testutil.EventuallyWithin(t, 60*time.Second, "every transition in Slack", func() bool {
		_, n := flapper()
		return n == flaps-1 && countFailed(fake) == 3
	})
	w.stop(t)

	perTask := map[string][2]int{} // task -> top-level, replies
	for _, m := range fake.TopLevel(botChannel) {
		_, part := m.EventID()
		if part != "card" {
			t.Errorf("top-level message that is not a card (an API blip?): %s", m.Text)
			continue
		}
		name := regexp.MustCompile(`cache-\d{3}`).FindString(m.Text)
		c := perTask[name]
		perTask[name] = [2]int{c[0] + 1, c[1] + len(fake.Replies(botChannel, m.TS))}
	}
	var names []string
	for n := range perTask {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Logf("messages per task: %s: %d top-level, %d thread replies", n, perTask[n][0], perTask[n][1])
		if perTask[n][0] != 1 {
			t.Errorf("%s: %d top-level messages, want 1", n, perTask[n][0])
		}
	}
	if len(perTask) != 4 {
		t.Errorf("tasks with a card = %d, want 4 (3 failures, 1 flapping)", len(perTask))
	}
	if c := perTask["cache-003"]; c[1] != flaps-1 {
		t.Errorf("flapping task: %d replies, want %d (the first transition opened the card)", c[1], flaps-1)
	}
	for _, m := range fake.Messages() {
		if strings.Contains(string(m.Blocks)+m.Text, "PLANTED") || strings.Contains(unescape(m.Blocks), "<!channel>") {
			t.Errorf("message leaks a secret or an unescaped mention: %s", m.Text)
		}
	}
	if strings.Contains(logs.String(), botSecret) {
		t.Error("the logs hold the bot token")
	}
}

func countFailed(f *slackapi.Server) int {
	n := 0
	for _, m := range f.TopLevel(botChannel) {
		if strings.Contains(m.Text, "FAILED") {
			n++
		}
	}
	return n
}

func unescape(b []byte) string {
	return strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(string(b))
}

// TestBotModeBurst runs the real binary in bot mode while 200 tasks fail
// at once, and one of them later recovers: the failures make a few
// grouped top-level messages (not 200 cards), every task is told exactly
// once, and the recovered task's card opens in the thread of the grouped
// message that listed it.
func TestBotModeBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary for about 20 s")
	}
	scenario := botTasksYAML(func(i int) string {
		steps := "      - {at: 5s, status: FAILED, error_message: \"source refused\"}\n"
		if i == 7 {
			steps += "      - {at: 12s, status: RUNNING}\n"
		}
		return steps
	})
	bin := watcherBinary(t)
	fake := slackapi.New(t, botSecret, map[string]string{"#oncall": botChannel})
	simURL := startSimChild(t, bin, "--scenario", testutil.WriteFile(t, "scenario.yaml", scenario))
	cfg := fmt.Sprintf(`log: {level: info, format: json}
data_dir: %q
dcs: {endpoint: %q, project_id: %q, rate_limit: 1000, concurrency: 8, timeout: 5s}
poll: {schedule: "@every 1s", discover: true, detail: on_change}
nats: {listen: "127.0.0.1:0", duplicate_window: 1h}
slack: {enabled: true, channel: %s, api_url: %q, rate: 1, timeout: 5s}
`, t.TempDir(), simURL, botProject, botChannel, fake.URL())
	env := childEnv("HUAWEICLOUD_SDK_AK="+plantedAK, "HUAWEICLOUD_SDK_SK="+plantedSK, "WATCHER_SLACK_BOT_TOKEN="+botSecret)
	logs := &testutil.SyncBuffer{}
	w := startWatcher(t, bin, testutil.WriteFile(t, "watcher.yaml", cfg), env, logs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("top level %d; logs:\n%s", len(fake.TopLevel(botChannel)), tail(logs.String(), 4000))
		}
	})

	// told counts the tasks each top-level message tells of: a card (its
	// text starts with its task's name, whatever status a redraw gave
	// it: a task that came alone in its batch, before the burst grouped)
	// one, a grouped message each task it lists in bold.
	cardName, listed := regexp.MustCompile(`^(cache-\d{3}): `), regexp.MustCompile(`\*(cache-\d{3})\*`)
	told := func() map[string]int {
		out := map[string]int{}
		for _, m := range fake.TopLevel(botChannel) {
			if c := cardName.FindStringSubmatch(m.Text); c != nil {
				out[c[1]]++
				continue
			}
			for _, name := range listed.FindAllStringSubmatch(unescape(m.Blocks), -1) {
				out[name[1]]++
			}
		}
		return out
	}
	var card slackapi.Message
	testutil.EventuallyWithin(t, 3*time.Minute, "every failure told and task 7's card opened", func() bool {
		if len(told()) < botTasks {
			return false
		}
		for _, m := range fake.Messages() {
			if strings.Contains(m.Text, "cache-007") && strings.Contains(m.Text, "RUNNING") {
				card = m
				return true
			}
		}
		return false
	})
	w.stop(t)

	top := 0
	for _, c := range fake.Calls("chat.postMessage") {
		if c.Form["thread_ts"] == "" {
			top++
		}
	}
	t.Logf("%d tasks failing at once: %d top-level posts, %d chat.postMessage calls", botTasks, top, len(fake.Calls("chat.postMessage")))
	if top > 8 {
		t.Errorf("top-level posts = %d, want a few grouped messages (at most 8)", top)
	}
	for name, n := range told() {
		if n != 1 {
			t.Errorf("%s told %d times at the top level, want once", name, n)
		}
	}
	if card.ThreadTS == "" {
		// Task 7 had a card of its own (it came alone in its batch): then
		// the recovery is a redraw of it.
		if _, part := card.EventID(); part != "card" {
			t.Errorf("task 7's recovery is in %q, want its card", card.Text)
		}
	} else if parent := fake.TopLevel(botChannel); !slicesContainsTS(parent, card.ThreadTS) {
		t.Errorf("task 7's card is in the thread of %s, which is no top-level message", card.ThreadTS)
	}
	t.Logf("task 7's card: thread %q, %s", card.ThreadTS, card.Text)
}

func slicesContainsTS(msgs []slackapi.Message, ts string) bool {
	for _, m := range msgs {
		if m.TS == ts {
			return true
		}
	}
	return false
}
