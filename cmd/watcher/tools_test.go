package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestTail: `watcher tail --count 3` connects to the watcher's NATS, prints
// one line per published event, and exits after the third: on the embedded
// server's listener as the read-only user (its password read from data_dir,
// nothing in the config), and on an external NATS given by nats.url.
func TestTail(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*config.Config)
		config func(h *harness) string
	}{
		{"embedded", nil, func(h *harness) string {
			return "data_dir: " + h.cfg.DataDir + "\nnats:\n  listen: " + strings.TrimPrefix(h.app.Broker.ClientURL(), "nats://") + "\n"
		}},
		{"external", func(c *config.Config) { c.NATS.URL = testutil.RunJetStream(t, -1, t.TempDir()).ClientURL() },
			func(h *harness) string { return "nats:\n  url: " + h.cfg.NATS.URL + "\n" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, e2eScenario, tt.mutate)
			path := writeFile(t, "watcher.yaml", tt.config(h))
			env := envOf(map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project})
			out, errb := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
			done := make(chan int, 1)
			go func() { done <- runCLI([]string{"tail", "-c", path, "--count", "3"}, out, errb, env) }()
			testutil.Eventually(t, "tail to subscribe", func() bool {
				select {
				case code := <-done:
					t.Fatalf("tail exit %d before subscribing: %s", code, errb.String())
				default:
				}
				return strings.Contains(errb.String(), "tailing")
			})

			h.cycleAt(0)
			if code := <-done; code != exitOK {
				t.Fatalf("tail exit %d: %s", code, errb.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 3 {
				t.Fatalf("tail printed %d lines, want 3: %q", len(lines), lines)
			}
			// One cycle's tasks are committed in parallel: their order on the
			// stream is not fixed, each task's own order is.
			for _, name := range []string{"orders-move", "sessions-import", "old-task"} {
				if !slices.ContainsFunc(lines, func(l string) bool {
					return strings.Contains(l, "discovered") && strings.Contains(l, name)
				}) {
					t.Errorf("tail printed %q, want the discovery of %s", lines, name)
				}
			}
		})
	}
}

func TestTailWithoutWatcher(t *testing.T) {
	path := writeFile(t, "watcher.yaml", "nats:\n  url: nats://127.0.0.1:1\n")
	env := envOf(map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project})
	var out, errb bytes.Buffer
	if code := runCLI([]string{"tail", "-c", path}, &out, &errb, env); code != exitFailure || !strings.Contains(errb.String(), "is the watcher running?") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// TestNotifyTest posts the sample message to a webhook that speaks Slack's
// protocol; a refusal is an error that does not show the webhook URL.
func TestNotifyTest(t *testing.T) {
	slack := newSlackServer(t)
	env := envOf(map[string]string{
		"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project,
		"WATCHER_SLACK_WEBHOOK_URL": slack.URL + "/services/T0001/B0001/" + webhookSecret,
	})
	path := writeFile(t, "watcher.yaml", "slack:\n  enabled: true\n")
	var out, errb bytes.Buffer
	if code := runCLI([]string{"notify-test", "-c", path}, &out, &errb, env); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	texts := slack.texts()
	if len(texts) != 1 || !strings.Contains(texts[0], "Test message") || !strings.Contains(texts[0], "FULLMIGRATING") {
		t.Fatalf("slack received %q", texts)
	}

	slack.mu.Lock()
	slack.failNext = []int{404}
	slack.mu.Unlock()
	out.Reset()
	errb.Reset()
	if code := runCLI([]string{"notify-test", "-c", path}, &out, &errb, env); code != exitFailure {
		t.Fatalf("a refused test message: exit %d, want %d", code, exitFailure)
	}
	if !strings.Contains(errb.String(), "did not accept") {
		t.Errorf("stderr %q does not say Slack refused", errb.String())
	}
	assertNoSecrets(t, map[string]string{"stdout": out.String(), "stderr": errb.String()})
}

// TestNotifyTestRoute posts the sample through one route: its webhook, its
// mentions, and Slack's answer printed without the URL.
func TestNotifyTestRoute(t *testing.T) {
	slack := newSlackServer(t)
	env := envOf(map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project})
	path := writeFile(t, "watcher.yaml", "slack:\n  enabled: true\n  routes:\n"+
		"    - name: db\n      webhook_url: "+slack.URL+"/services/T0001/B0002/"+webhookSecret+"\n      mentions: [S0123ABCD, \"@here\"]\n")
	var out, errb bytes.Buffer
	if code := runCLI([]string{"notify-test", "-c", path, "--route", "db"}, &out, &errb, env); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	texts := slack.texts()
	if len(texts) != 1 || !strings.HasPrefix(texts[0], "<!subteam^S0123ABCD> <!here> Test message") {
		t.Fatalf("slack received %q, want the test message with the route's mentions first", texts)
	}
	if !strings.Contains(out.String(), "slack answered: HTTP 200 ok") {
		t.Errorf("stdout %q does not show Slack's answer", out.String())
	}

	out.Reset()
	errb.Reset()
	if code := runCLI([]string{"notify-test", "-c", path, "--route", "nope"}, &out, &errb, env); code == exitOK || !strings.Contains(errb.String(), `--route "nope": no such route`) {
		t.Errorf("an unknown route: exit %d, stderr %q", code, errb.String())
	}
	assertNoSecrets(t, map[string]string{"stdout": out.String(), "stderr": errb.String()})
}

// TestNotifyTestRouteTemplate: notify-test renders the sample with the
// route's template, so that whoever wrote one sees it in the channel.
func TestNotifyTestRouteTemplate(t *testing.T) {
	slack := newSlackServer(t)
	env := envOf(map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project})
	tmpl := writeFile(t, "oncall.tmpl", `{{define "text"}}ONCALL {{.Name}} is {{.Outcome}}{{end}}`)
	path := writeFile(t, "watcher.yaml", "slack:\n  enabled: true\n  routes:\n"+
		"    - name: db\n      webhook_url: "+slack.URL+"/services/T0001/B0002/"+webhookSecret+"\n      template: "+tmpl+"\n")
	var out, errb bytes.Buffer
	if code := runCLI([]string{"notify-test", "-c", path, "--route", "db"}, &out, &errb, env); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if texts := slack.texts(); len(texts) != 1 || texts[0] != "Test message from the DCS migration watcher. ONCALL watcher notify-test is in_progress" {
		t.Fatalf("slack received %q, want the route's template", texts)
	}
}
