package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// The documents whose snippets these tests run or check, from the
// repository's root: the README and every page of docs/.
const repoRoot = ".."

// Values the README's snippets leave to the reader, planted so that a test
// can tell they never reach an output.
const (
	readmeAK      = "READMEAKZZ8Q2W4E6R1T"
	readmeSK      = "READMEskZZ8Q2W4E6R1TyU3iO5pA7sD9fG0hJ2kL"
	readmeWebhook = "READMEwebhookTOKENqWe987"
	readmeBot     = "xoxb-README-bot-TOKEN-aSd654"
	readmeApp     = "xapp-1-README-app-TOKEN-k9P2"
)

// snippet is one fenced block of a document.
type snippet struct {
	file    string // from the repository's root: README.md, docs/slack.md
	line    int    // of the opening fence
	heading string // the nearest heading above it, as written: "## Quick start"
	lang    string // after the fence: sh, yaml, json, ini, or ""
	body    string // without the fences, the fence's indentation removed
}

func (s snippet) String() string {
	return fmt.Sprintf("%s:%d (%s block under %q)", s.file, s.line, s.lang, s.heading)
}

// firstLine is the snippet's first line, the key of the snippets no test runs.
func (s snippet) firstLine() string { line, _, _ := strings.Cut(s.body, "\n"); return line }

// docSnippets returns every fenced block of README.md and docs/*.md.
func docSnippets(t *testing.T) []snippet {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var all []snippet
	for _, path := range append([]string{filepath.Join(repoRoot, "README.md")}, pages...) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot, path)
		all = append(all, parseSnippets(t, filepath.ToSlash(rel), string(b))...)
	}
	return all
}

// parseSnippets cuts the fenced blocks out of one document. A fence may be
// indented (a block inside a list item); the block ends at a fence of the
// same indentation.
func parseSnippets(t *testing.T, file, text string) []snippet {
	var out []snippet
	var heading string
	var open *snippet
	var indent string
	var body []string
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case open != nil && line == indent+"```":
			open.body = strings.Join(body, "\n") + "\n"
			out = append(out, *open)
			open = nil
		case open != nil:
			body = append(body, strings.TrimPrefix(line, indent))
		case strings.HasPrefix(trimmed, "```"):
			indent = line[:len(line)-len(trimmed)]
			open = &snippet{file: file, line: i + 1, heading: heading, lang: strings.TrimPrefix(trimmed, "```")}
			body = nil
		case strings.HasPrefix(line, "#"):
			heading = line
		}
	}
	if open != nil {
		t.Fatalf("%s: unclosed block", open)
	}
	return out
}

// section returns the blocks of lang under heading in file, in order.
func section(t *testing.T, file, heading, lang string) []snippet {
	t.Helper()
	var out []snippet
	for _, s := range docSnippets(t) {
		if s.file == file && s.heading == heading && s.lang == lang {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no %s block under %q", file, lang, heading)
	}
	return out
}

// runBy names the test that runs the sh blocks under a heading.
var runBy = map[string]string{
	"README.md ## Quick start":                 "TestReadmeQuickStart",
	"README.md ## Pointing it at Huawei Cloud": "TestReadmeHuaweiSnippet",
}

// notRun lists the sh blocks no test here runs, by their first line, and why.
var notRun = map[string]string{
	"go run ./cmd/watcher demo     # the whole pipeline on embedded defaults; ends by itself in ~25 s":                                "CI (.ci/run) runs the demo; go test ./... is the run this test is part of",
	". data/nats/reader.env                                           # or: nats --context data/nats/reader.context.json ...":         "needs the nats CLI, which the project does not depend on; TestReaderCannotWrite checks the reader's rights with the Go client",
	". data/nats/reader.env && go run ./examples/consumer -durable my-failures   # one line per failure, acked":                       "TestExampleConsumer runs the example with reader.env's variables against the binary",
	"go run ./cmd/watcher bench           # every phase at full size: about 15 minutes on 2 cores":                                    "TestBenchQuick runs bench --quick; the full bench takes 15 minutes",
	`watcher silence add -c watcher.yaml --match 'name=orders-*' --match 'outcome=failed' --for 2h --comment "cut-over"`:              "e2e's TestSilenceCommands runs add, ls and rm with these flags against a running watcher",
	"install -m 0755 watcher /usr/local/bin/watcher":                                                                                  "needs root and systemd; deploy's TestSystemdUnitVerifies runs systemd-analyze verify on the unit, TestSystemdUnitPermissions checks these modes against the unit's DynamicUser",
	"gofmt -l . && go vet ./... && WATCHER_LONG_TESTS=1 go test -race -timeout 40m ./...   # what CI runs (.ci/run), plus the demo":   "CI (.ci/run) runs these; docker is not needed by the tests",
	`curl -s https://healthchecks.io/api/v3/checks/ -H "X-Api-Key: $HC_API_KEY" \`:                                                    "needs a healthchecks.io account; internal/app's TestPingOnlyAfterSuccessfulCycle and TestPingFollowsRunsCycles ping an httptest monitor",
	"nats sub 'dcs.migration._watcher.heartbeat'    # one line per heartbeat of every replica":                                        "needs the nats CLI; internal/app's TestHeartbeatCadence subscribes to the subject with the Go client",
	"timeout 3m nats sub --count 1 'dcs.migration._watcher.heartbeat' >/dev/null || echo \"dcs-watcher: no heartbeat for 3 minutes\"": "needs the nats CLI; TestHeartbeatCadence reads the heartbeats it would wait for",
}

// foreignYAML are the yaml blocks that are not the watcher's config, by
// file and heading, and what checks them instead; each must still be YAML.
var foreignYAML = map[string]string{
	"docs/heartbeat.md ### Prometheus and Alertmanager": "a Prometheus rule file; e2e's ops tests scrape the metric it reads",
}

// TestReadmeSnippetsAccounted fails on a block of README.md or docs/*.md
// that no test runs or checks and no entry of notRun explains, and on an
// entry of notRun whose block is gone: a new command in the documentation
// gets a test, or a reason.
func TestReadmeSnippetsAccounted(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range docSnippets(t) {
		switch s.lang {
		case "yaml": // TestReadmeConfigSnippets
		case "json": // TestReadmeEventSnippet
		case "ini": // TestReadmeProfileSnippet
		case "": // output and grammar shown, not run: error lines, subjects, a message
		case "sh":
			if runBy[s.file+" "+s.heading] != "" {
				continue
			}
			if _, ok := notRun[s.firstLine()]; ok {
				seen[s.firstLine()] = true
				continue
			}
			t.Errorf("%s: no test runs it and notRun has no reason for it", s)
		default:
			t.Errorf("%s: no test knows the language %q", s, s.lang)
		}
	}
	for line := range notRun {
		if !seen[line] {
			t.Errorf("notRun lists a block that is gone: %q", line)
		}
	}
}

// ownSource matches a config that takes its credentials from elsewhere
// than the keys and the environment.
var ownSource = regexp.MustCompile(`(?m)^\s*credentials: (profile|metadata)\b`)

// TestReadmeConfigSnippets loads every yaml block of the documents as a
// config file: every key must exist and the whole must validate, with the
// secrets the pages take from the environment supplied.
func TestReadmeConfigSnippets(t *testing.T) {
	blocks := docSnippets(t)
	t.Chdir(repoRoot) // templates are named from the repository's root
	env := map[string]string{
		config.EnvAK:            readmeAK,
		config.EnvSK:            readmeSK,
		config.EnvSlackBotToken: readmeBot,
		config.EnvSlackAppToken: readmeApp,
	}
	n := 0
	foreign := map[string]bool{}
	for _, s := range blocks {
		if s.lang != "yaml" {
			continue
		}
		if _, ok := foreignYAML[s.file+" "+s.heading]; ok {
			foreign[s.file+" "+s.heading] = true
			var v any
			if err := yaml.Unmarshal([]byte(s.body), &v); err != nil {
				t.Errorf("%s is not YAML: %v", s, err)
			}
			continue
		}
		n++
		getenv := func(k string) string { return env[k] }
		if ownSource.MatchString(s.body) { // AK/SK from the environment would be refused
			getenv = func(k string) string {
				if k == config.EnvAK || k == config.EnvSK {
					return ""
				}
				return env[k]
			}
		}
		if _, err := config.Parse([]byte(s.body), s.String(), getenv); err != nil {
			t.Errorf("%s does not load: %v\n%s", s, err, s.body)
		}
	}
	if n == 0 {
		t.Fatal("no yaml block found")
	}
	for where := range foreignYAML {
		if !foreign[where] {
			t.Errorf("foreignYAML lists a block that is gone: %s", where)
		}
	}
}

// TestReadmeEventSnippet validates the payload shown in docs/events.md
// against the schema the published events are validated against, and reads
// it as the watcher's own envelope.
func TestReadmeEventSnippet(t *testing.T) {
	blocks := append(section(t, "docs/events.md", "## Payload", "json"), section(t, "docs/heartbeat.md", "## The event", "json")...)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join(repoRoot, "docs", "event.schema.json"))
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	for _, s := range blocks {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s.body))
		if err != nil {
			t.Fatalf("%s is not JSON: %v", s, err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("%s does not match docs/event.schema.json: %v", s, err)
		}
		var env notify.Envelope
		dec := json.NewDecoder(strings.NewReader(s.body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&env); err != nil {
			t.Errorf("%s is not an envelope the watcher writes: %v", s, err)
		}
	}
}

// TestReadmeProfileSnippet reads the profile file shown in
// docs/configuration.md as the watcher reads one.
func TestReadmeProfileSnippet(t *testing.T) {
	blocks := section(t, "docs/configuration.md", "## Credentials", "ini")
	path := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(path, []byte(blocks[0].body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "prod"} {
		c, _, err := dcs.ReadProfile(path, name)
		if err != nil {
			t.Fatalf("%s, profile %q: %v", blocks[0], name, err)
		}
		if c.AK != "..." || c.SK != "..." {
			t.Errorf("%s, profile %q: ak and sk read as %q and %q", blocks[0], name, c.AK, c.SK)
		}
		if name == "prod" && c.SecurityToken != "..." {
			t.Errorf("%s, profile prod: security_token is not the file's \"...\" (its comment kept?)", blocks[0])
		}
	}
}

// watcherOnPath returns an environment for a shell whose `watcher` (and
// ./watcher, once linked, see linkWatcher) is the binary the tests built:
// nothing else of the caller's WATCHER_* or HUAWEICLOUD_* leaks in; the Go variables stay, for
// the snippets that build.
func watcherOnPath(t *testing.T, extra ...string) []string {
	t.Helper()
	dir := t.TempDir()
	linkWatcher(t, dir)
	env := []string{"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GO") || strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// linkWatcher puts a `watcher` into dir: the binary the tests built.
func linkWatcher(t *testing.T, dir string) {
	t.Helper()
	if err := os.Symlink(watcherBinary(t), filepath.Join(dir, "watcher")); err != nil {
		t.Fatal(err)
	}
}

// TestReadmeHuaweiSnippet runs the README's "Pointing it at Huawei Cloud"
// block as written, in bash, against the simulator: only the values the
// reader fills in (each VAR=... of the exports) are supplied, the region's
// endpoint comes from the documented HUAWEICLOUD_SDK_REGION_DCS_<REGION>,
// NATS from WATCHER_NATS_URL (so as not to take the default port), and
// `watcher once` stands for `watcher run`, which would not end. A variable
// the config needs but the block does not export fails validate.
func TestReadmeHuaweiSnippet(t *testing.T) {
	block := section(t, "README.md", "## Pointing it at Huawei Cloud", "sh")[0].body
	srv := sim.New(sim.Fleet(sim.FleetOptions{Tasks: 3, Seed: 9}), sim.Options{AK: readmeAK, SK: readmeSK})
	api := httptest.NewServer(srv)
	t.Cleanup(api.Close)
	nats := testutil.RunJetStream(t, -1, t.TempDir())
	values := map[string]string{
		"HUAWEICLOUD_SDK_AK":         readmeAK,
		"HUAWEICLOUD_SDK_SK":         readmeSK,
		"HUAWEICLOUD_SDK_PROJECT_ID": sim.FleetProjectID,
		// once posts nothing: the webhook is only validated, never called
		"WATCHER_SLACK_WEBHOOK_URL": "http://127.0.0.1:9/services/T0001/B0001/" + readmeWebhook,
	}
	filled := regexp.MustCompile(`([A-Z_]+)=\.\.\.`).ReplaceAllStringFunc(block, func(m string) string {
		name := strings.TrimSuffix(m, "=...")
		v, ok := values[name]
		if !ok {
			t.Fatalf("the snippet exports %s, which this test has no value for", name)
		}
		return name + "='" + v + "'"
	})
	if strings.Contains(filled, "=...") {
		t.Fatalf("a placeholder left in:\n%s", filled)
	}
	run := "watcher validate -c watcher.yaml && watcher run -c watcher.yaml"
	if !strings.Contains(filled, run) {
		t.Fatalf("the snippet no longer ends with %q:\n%s", run, block)
	}
	filled = strings.Replace(filled, run, "watcher validate -c watcher.yaml && watcher once -c watcher.yaml", 1)
	region := regexp.MustCompile(`region: (\S+)`).FindStringSubmatch(block)
	if region == nil {
		t.Fatalf("no dcs.region in the snippet:\n%s", block)
	}
	override := "HUAWEICLOUD_SDK_REGION_DCS_" + strings.ToUpper(strings.ReplaceAll(region[1], "-", "_"))

	cmd := exec.Command("bash", "-euo", "pipefail", "-c", filled)
	cmd.Dir = t.TempDir()
	cmd.Env = watcherOnPath(t, override+"="+api.URL, "WATCHER_NATS_URL="+nats.ClientURL())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's snippet failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "config ok:") || strings.Count(string(out), `"type":"com.huaweicloud.dcs.migration.discovered.v1"`) != 3 {
		t.Errorf("the snippet's validate and once said:\n%s", out)
	}
	for name, v := range values {
		if name != "HUAWEICLOUD_SDK_PROJECT_ID" && strings.Contains(string(out), v) {
			t.Errorf("a secret in the snippet's output")
		}
	}
}

// TestReadmeQuickStart runs the README's quick start as a newcomer would,
// in one bash: the build, the simulator and the fake webhook in the
// background, the config and `watcher run` in the foreground; then step 5's
// tail beside it; then Ctrl-C. Only what cannot be taken as written is
// changed: the build becomes a link to this binary, the scratch directory a
// temporary one and the three ports free ones. It waits for the message the
// README shows (the simulated fleet and its plan are the same on every run),
// and the event on the tail.
func TestReadmeQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quick start: about 20 s")
	}
	blocks := section(t, "README.md", "## Quick start", "sh")
	if len(blocks) != 5 {
		t.Fatalf("the quick start has %d sh blocks, this test runs 5: build, simulator, hook, watcher, tail", len(blocks))
	}
	dir := t.TempDir()
	linkWatcher(t, dir)
	replace := []string{
		"go build -o /tmp/watcher-quickstart/watcher ./cmd/watcher && cd /tmp/watcher-quickstart", "cd " + dir,
		"/tmp/watcher-quickstart", dir,
		"127.0.0.1:8801", freeAddr(t),
		"127.0.0.1:8802", freeAddr(t),
		"127.0.0.1:4222", freeAddr(t),
	}
	var script []string
	for _, b := range blocks {
		script = append(script, strings.NewReplacer(replace...).Replace(b.body))
	}
	if strings.TrimSpace(script[0]) != "cd "+dir {
		t.Fatalf("the quick start's first block is no longer the build:\n%s", blocks[0].body)
	}
	last := "./watcher validate -c watcher.yaml && ./watcher run -c watcher.yaml 2> watcher.log"
	if !strings.Contains(script[3], last) {
		t.Fatalf("step 4 no longer ends with %q:\n%s", last, blocks[3].body)
	}
	want := sampleMessage(t)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := &testutil.SyncBuffer{}
	sh := exec.CommandContext(ctx, "bash", "-e", "-c", strings.Join(script[:4], ""))
	sh.Env = watcherOnPath(t)
	sh.Stdout, sh.Stderr = out, out
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sh.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-sh.Process.Pid, syscall.SIGKILL) }) // the background jobs
	logs := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "watcher.log"))
		return fmt.Sprintf("stdout:\n%s\nwatcher.log:\n%s", out.String(), b[max(0, len(b)-4000):])
	}
	waitFor(t, done, 2*time.Minute, logs, func() bool {
		return strings.Contains(out.String(), want.header) && strings.Contains(out.String(), want.reason)
	}, "the README's sample message")
	if !strings.Contains(out.String(), "config ok: project "+sim.FleetProjectID) {
		t.Errorf("validate did not say what the README says:\n%s", logs())
	}

	tailCmd := strings.TrimSpace(script[4])
	if !strings.HasSuffix(tailCmd, "./watcher tail -c watcher.yaml") {
		t.Fatalf("step 5 is no longer the tail:\n%s", blocks[4].body)
	}
	tctx, tcancel := context.WithTimeout(ctx, time.Minute)
	defer tcancel()
	tailSh := exec.CommandContext(tctx, "bash", "-e", "-c", tailCmd+" --count 1")
	tailSh.Env = watcherOnPath(t)
	events, err := tailSh.CombinedOutput()
	if err != nil || !strings.Contains(string(events), "status_changed") {
		t.Errorf("step 5's tail: %v\n%s", err, events)
	}

	if err := syscall.Kill(-sh.Process.Pid, syscall.SIGINT); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Ctrl-C: the quick start ended with %v, not the watcher's exit 0\n%s", err, logs())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the watcher did not stop on Ctrl-C\n%s", logs())
	}
	for _, secret := range []string{"quickstart-sk"} {
		if strings.Contains(logs(), secret) {
			t.Errorf("the SK in the quick start's output")
		}
	}
}

// sampleMessage is the message the quick start shows: its first line (the
// notification text) and its failure reason.
type quickSample struct{ header, reason string }

func sampleMessage(t *testing.T) quickSample {
	t.Helper()
	var shown snippet
	for _, s := range docSnippets(t) {
		if s.file == "README.md" && s.heading == "## Quick start" && s.lang == "" {
			shown = s
		}
	}
	header := regexp.MustCompile(`(?m)^--- Slack message: .*$`).FindString(shown.body)
	reason := regexp.MustCompile(`(?m)"\*Failure reason\*\\n.*"`).FindString(shown.body)
	if header == "" || reason == "" {
		t.Fatalf("the quick start shows no message with a failure reason:\n%s", shown.body)
	}
	return quickSample{header, reason}
}

// waitFor polls cond until it holds, the shell ends or the deadline passes.
func waitFor(t *testing.T, done <-chan error, d time.Duration, logs func() string, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("the quick start ended (%v) before %s\n%s", err, what, logs())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not seen within %s\n%s", what, d, logs())
		}
	}
}

// freeAddr is a loopback address nobody listens on, for a child to take.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
