package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackapi"
	"github.com/dcs-watcher/watcher/internal/testutil/slacksocket"
)

const btnAppToken = "xapp-1-PLANTED-app-token"

// buttonsRun runs the real binary in bot mode against the simulator (one
// task that fails at 2 s) and the fake Web API, with the app token when
// appToken is set, and returns the failure card once it is posted.
func buttonsRun(t *testing.T, fake *slackapi.Server, appToken string) (slackapi.Message, *watcherProc, *testutil.SyncBuffer) {
	t.Helper()
	bin := watcherBinary(t)
	scenario := testutil.WriteFile(t, "scenario.yaml", fmt.Sprintf(`project_id: %s
tasks:
  - id: task-btn
    name: orders-cache
    steps:
      - {at: 0s, status: FULLMIGRATING}
      - {at: 2s, status: FAILED, error_message: "source refused"}
`, botProject))
	simURL := startSimChild(t, bin, "--scenario", scenario)
	cfg := testutil.WriteFile(t, "watcher.yaml", fmt.Sprintf(`log: {level: info, format: json}
data_dir: %q
dcs: {endpoint: %q, project_id: %q, rate_limit: 1000, timeout: 5s}
poll: {schedule: "@every 1s", discover: true, detail: on_change}
nats: {listen: "127.0.0.1:0"}
slack: {enabled: true, channel: %s, api_url: %q, rate: 10, min_retry_delay: 200ms, max_retry_delay: 2s, timeout: 5s}
`, t.TempDir(), simURL, botProject, botChannel, fake.URL()))
	env := []string{"HUAWEICLOUD_SDK_AK=" + plantedAK, "HUAWEICLOUD_SDK_SK=" + plantedSK, "WATCHER_SLACK_BOT_TOKEN=" + botSecret}
	if appToken != "" {
		env = append(env, "WATCHER_SLACK_APP_TOKEN="+appToken)
	}
	logs := &testutil.SyncBuffer{}
	w := startWatcher(t, bin, cfg, childEnv(env...), logs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", tail(logs.String(), 4000))
		}
	})
	var card slackapi.Message
	testutil.EventuallyWithin(t, 30*time.Second, "the failure card", func() bool {
		for _, m := range fake.TopLevel(botChannel) {
			if strings.Contains(unescape(m.Blocks), "`FAILED`") {
				card = m
				return true
			}
		}
		return false
	})
	return card, w, logs
}

// ackValue is the value of the card's Acknowledge button; "" without one.
func ackValue(t *testing.T, card slackapi.Message) string {
	t.Helper()
	var blocks []struct {
		Type     string `json:"type"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(card.Blocks, &blocks); err != nil {
		t.Fatalf("card blocks: %v", err)
	}
	for _, b := range blocks {
		for _, e := range b.Elements {
			if b.Type == "actions" && e.ActionID == slackmsg.ActionAcknowledge {
				return e.Value
			}
		}
	}
	return ""
}

// TestButtonsAcknowledge: with an app token the real binary's failure
// card has buttons; a click on Acknowledge over Socket Mode is acked and
// the card is redrawn in place saying who acknowledged, without the
// button. No token reaches the log.
func TestButtonsAcknowledge(t *testing.T) {
	fake := slackapi.New(t, botSecret, map[string]string{"#oncall": botChannel})
	sock := slacksocket.New(t, fake, btnAppToken)
	card, w, logs := buttonsRun(t, fake, btnAppToken)
	value := ackValue(t, card)
	if value == "" {
		t.Fatalf("the failure card has no Acknowledge button:\n%s", card.Blocks)
	}
	testutil.EventuallyWithin(t, 20*time.Second, "the socket up", sock.Connected)
	id, err := sock.Click(slacksocket.Click{User: "U0ANA", ActionID: slackmsg.ActionAcknowledge, Value: value,
		BlockID: slackmsg.ActionsBlockID, Channel: botChannel, MessageTS: card.TS})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the click acked", func() bool { _, ok := sock.AckOf(id); return ok })
	var now slackapi.Message
	testutil.Eventually(t, "the card redrawn with the acknowledgement", func() bool {
		for _, m := range fake.TopLevel(botChannel) {
			if m.TS == card.TS && strings.Contains(unescape(m.Blocks), "Acknowledged by <@U0ANA>") {
				now = m
				return true
			}
		}
		return false
	})
	if ackValue(t, now) != "" {
		t.Errorf("the acknowledged card still offers Acknowledge:\n%s", now.Blocks)
	}
	if n := len(fake.TopLevel(botChannel)); n != 1 {
		t.Errorf("%d top-level messages, want 1: the card redrawn in place", n)
	}
	w.stop(t)
	for _, secret := range []string{botSecret, btnAppToken} {
		if strings.Contains(logs.String(), secret) {
			t.Error("a token reached the log")
		}
	}
}

// TestButtonsOffWithoutAppToken: without an app token the card has no
// buttons.
func TestButtonsOffWithoutAppToken(t *testing.T) {
	fake := slackapi.New(t, botSecret, map[string]string{"#oncall": botChannel})
	card, w, _ := buttonsRun(t, fake, "")
	w.stop(t)
	if strings.Contains(string(card.Blocks), slackmsg.ActionsBlockID) {
		t.Errorf("card without an app token has buttons:\n%s", card.Blocks)
	}
}
