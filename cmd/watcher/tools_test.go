package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/dcs-watcher/watcher/e2e/fixture"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

func TestTailWithoutWatcher(t *testing.T) {
	path := testutil.WriteFile(t, "watcher.yaml", "nats:\n  url: nats://127.0.0.1:1\n")
	env := envOf(map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project})
	var out, errb bytes.Buffer
	if code := runCLI([]string{"tail", "-c", path}, &out, &errb, env); code != exitFailure || !strings.Contains(errb.String(), "is the watcher running?") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// TestNotifyTest posts the sample message to a webhook that speaks Slack's
// protocol; a refusal is an error that does not show the webhook URL.
func TestNotifyTest(t *testing.T) {
	slack := slackhook.Start(t, slackhook.Options{Token: webhookSecret})
	env := envOf(map[string]string{
		"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project,
		"WATCHER_SLACK_WEBHOOK_URL": slack.URL + "/services/T0001/B0001/" + webhookSecret,
	})
	path := testutil.WriteFile(t, "watcher.yaml", "slack:\n  enabled: true\n")
	var out, errb bytes.Buffer
	if code := runCLI([]string{"notify-test", "-c", path}, &out, &errb, env); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	texts := slack.Texts()
	if len(texts) != 1 || !strings.Contains(texts[0], "Test message") || !strings.Contains(texts[0], "FULLMIGRATING") {
		t.Fatalf("slack received %q", texts)
	}

	slack.Queue(slackhook.Refusal(http.StatusNotFound))
	out.Reset()
	errb.Reset()
	if code := runCLI([]string{"notify-test", "-c", path}, &out, &errb, env); code != exitFailure {
		t.Fatalf("a refused test message: exit %d, want %d", code, exitFailure)
	}
	if !strings.Contains(errb.String(), "did not accept") {
		t.Errorf("stderr %q does not say Slack refused", errb.String())
	}
	fixture.AssertNoSecrets(t, map[string]string{"stdout": out.String(), "stderr": errb.String()})
}

// TestNotifyTestRoute posts the sample through one route: its webhook, its
// mentions, and Slack's answer printed without the URL.
func TestNotifyTestRoute(t *testing.T) {
	slack := slackhook.Start(t, slackhook.Options{Token: webhookSecret})
	env := envOf(map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project})
	path := testutil.WriteFile(t, "watcher.yaml", "slack:\n  enabled: true\n  routes:\n"+
		"    - name: db\n      webhook_url: "+slack.URL+"/services/T0001/B0002/"+webhookSecret+"\n      mentions: [S0123ABCD, \"@here\"]\n")
	var out, errb bytes.Buffer
	if code := runCLI([]string{"notify-test", "-c", path, "--route", "db"}, &out, &errb, env); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	texts := slack.Texts()
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
	fixture.AssertNoSecrets(t, map[string]string{"stdout": out.String(), "stderr": errb.String()})
}

// TestNotifyTestRouteTemplate: notify-test renders the sample with the
// route's template, so that whoever wrote one sees it in the channel.
func TestNotifyTestRouteTemplate(t *testing.T) {
	slack := slackhook.Start(t, slackhook.Options{Token: webhookSecret})
	env := envOf(map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID": project})
	tmpl := testutil.WriteFile(t, "oncall.tmpl", `{{define "text"}}ONCALL {{.Name}} is {{.Outcome}}{{end}}`)
	path := testutil.WriteFile(t, "watcher.yaml", "slack:\n  enabled: true\n  routes:\n"+
		"    - name: db\n      webhook_url: "+slack.URL+"/services/T0001/B0002/"+webhookSecret+"\n      template: "+tmpl+"\n")
	var out, errb bytes.Buffer
	if code := runCLI([]string{"notify-test", "-c", path, "--route", "db"}, &out, &errb, env); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if texts := slack.Texts(); len(texts) != 1 || texts[0] != "Test message from the DCS migration watcher. ONCALL watcher notify-test is in_progress" {
		t.Fatalf("slack received %q, want the route's template", texts)
	}
}
