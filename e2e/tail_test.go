package e2e

import (
	"os/exec"
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
			path := testutil.WriteFile(t, "watcher.yaml", tt.config(h))
			cmd := exec.Command(watcherBinary(t), "tail", "-c", path, "--count", "3")
			cmd.Env = childEnv("HUAWEICLOUD_SDK_AK="+plantedAK, "HUAWEICLOUD_SDK_SK="+plantedSK, "HUAWEICLOUD_SDK_PROJECT_ID="+project)
			out, errb := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
			cmd.Stdout, cmd.Stderr = out, errb
			if err := cmd.Start(); err != nil {
				t.Fatalf("start tail: %v", err)
			}
			done := make(chan struct{}) // closed once tail has exited
			go func() { _ = cmd.Wait(); close(done) }()
			t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
			testutil.Eventually(t, "tail to subscribe", func() bool {
				select {
				case <-done:
					t.Fatalf("tail exit %d before subscribing: %s", cmd.ProcessState.ExitCode(), errb.String())
				default:
				}
				return strings.Contains(errb.String(), "tailing")
			})

			h.cycleAt(0)
			<-done
			if code := cmd.ProcessState.ExitCode(); code != 0 {
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
