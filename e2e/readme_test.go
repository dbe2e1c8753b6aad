package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// readmeBlock returns the first fenced sh block after heading in README.md.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no %q", heading)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	block, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatalf("no sh block under %q", heading)
	}
	return block
}

// TestReadmeHuaweiSnippet runs the README's "Pointing it at Huawei Cloud"
// block as written, in bash, against the simulator: only the values the
// reader fills in (each VAR=... of the exports) are supplied, the region's
// endpoint comes from the documented HUAWEICLOUD_SDK_REGION_DCS_<REGION>,
// NATS from WATCHER_NATS_URL (so as not to take the default port), and
// `watcher once` stands for `watcher run`, which would not end. A variable
// the config needs but the block does not export fails validate.
func TestReadmeHuaweiSnippet(t *testing.T) {
	bin := watcherBinary(t)
	block := readmeBlock(t, "## Pointing it at Huawei Cloud")
	s := startSim(t, bin, sim.FleetOptions{Tasks: 3, Seed: 9}, time.Now())
	slack := newSlackServer(t)
	nats := testutil.RunJetStream(t, -1, t.TempDir())
	values := map[string]string{
		"HUAWEICLOUD_SDK_AK":         plantedAK,
		"HUAWEICLOUD_SDK_SK":         plantedSK,
		"HUAWEICLOUD_SDK_PROJECT_ID": sim.FleetProjectID,
		"WATCHER_SLACK_WEBHOOK_URL":  slack.URL + "/services/T0001/B0001/" + webhookSecret,
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
	cmd.Env = append(childEnv(override+"="+s.url, "WATCHER_NATS_URL="+nats.ClientURL()),
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
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
