package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackapi"
	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

// TestHelp: `-h`/`--help` of every command exit 0; the help says what the
// command does and lists its flags.
func TestHelp(t *testing.T) {
	help := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := runCLI(args, &out, &errb, envOf(nil))
		return code, out.String(), errb.String()
	}
	for name, doc := range commandDocs {
		for _, h := range []string{"-h", "--help"} {
			code, out, errOut := help(name, h)
			if code != exitOK {
				t.Errorf("watcher %s %s: exit %d, want 0; stderr %s", name, h, code, errOut)
			}
			if !strings.Contains(out, "Usage: watcher "+name) || !strings.Contains(out, doc.what[:20]) {
				t.Errorf("watcher %s %s says:\n%s", name, h, out)
			}
			if len(doc.env) > 0 && !strings.Contains(out, "Environment") {
				t.Errorf("watcher %s %s names no environment variable:\n%s", name, h, out)
			}
		}
	}
	for _, name := range []string{"run", "once", "validate", "tail", "notify-test", "health"} {
		if _, out, _ := help(name, "-h"); !strings.Contains(out, "-c string") {
			t.Errorf("watcher %s -h does not list -c:\n%s", name, out)
		}
	}
	// A wrong flag is still a usage error.
	if code, _, _ := help("run", "--no-such-flag"); code != exitUsage {
		t.Errorf("watcher run --no-such-flag: exit %d, want %d", code, exitUsage)
	}
}

// TestPartialConfigs: tail needs only data_dir and nats.*, notify-test
// only slack.*: neither asks for DCS credentials or a project. notify-test
// --route posts to a bot-mode route's channel through the Web API.
func TestPartialConfigs(t *testing.T) {
	dir := t.TempDir()
	tailCfg := testutil.WriteFile(t, "tail.yaml", fmt.Sprintf("data_dir: %q\nnats: {listen: \"127.0.0.1:1\"}\n", dir))
	var out, errb bytes.Buffer
	code := runCLI([]string{"tail", "-c", tailCfg, "--count", "1"}, &out, &errb, envOf(nil))
	if code != exitFailure || strings.Contains(errb.String(), "dcs.") {
		t.Errorf("tail without DCS keys: exit %d (want %d: no watcher to tail), stderr %s", code, exitFailure, errb.String())
	}

	api := slackapi.New(t, "xoxb-test-token", map[string]string{"#oncall": "C0ONCALL"})
	hook := slackhook.Start(t, slackhook.Options{Token: webhookSecret})
	nt := testutil.WriteFile(t, "nt.yaml", fmt.Sprintf(`slack:
  enabled: true
  api_url: %q
  routes:
    - {name: pager, channel: "#oncall", match: {outcome: [failed]}}
    - {name: team, webhook_url: %q}
`, api.URL(), hook.URL+"/services/T0001/B0001/"+webhookSecret))
	env := envOf(map[string]string{"WATCHER_SLACK_BOT_TOKEN": "xoxb-test-token"})
	out.Reset()
	errb.Reset()
	if code := runCLI([]string{"notify-test", "-c", nt, "--route", "pager"}, &out, &errb, env); code != exitOK {
		t.Fatalf("notify-test --route pager: exit %d: %s%s", code, out.String(), errb.String())
	}
	msgs := api.TopLevel("C0ONCALL")
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Test message") {
		t.Errorf("bot route: channel holds %+v", msgs)
	}
	if code := runCLI([]string{"notify-test", "-c", nt, "--route", "team"}, &out, &errb, env); code != exitOK {
		t.Fatalf("notify-test --route team: exit %d: %s%s", code, out.String(), errb.String())
	}
	if len(hook.Accepted()) != 1 {
		t.Errorf("webhook route: %d posts, want 1", len(hook.Accepted()))
	}
}
