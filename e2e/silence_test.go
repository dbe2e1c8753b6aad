package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/silence"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestSilenceCommands: `watcher silence add` on the running watcher's
// NATS (the embedded server's listener as the watcher user, its password
// from data_dir; or an external NATS by nats.url) is seen by the running
// watcher at once, `ls` lists it, `rm` ends it; a bad --match is a usage
// error that names the flag.
func TestSilenceCommands(t *testing.T) {
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
			run := func(args ...string) (int, string, string) {
				cmd := exec.Command(watcherBinary(t), append([]string{"silence"}, append(args, "-c", path)...)...)
				cmd.Env = childEnv("USER=ana")
				out, errb := &strings.Builder{}, &strings.Builder{}
				cmd.Stdout, cmd.Stderr = out, errb
				_ = cmd.Run()
				return cmd.ProcessState.ExitCode(), out.String(), errb.String()
			}
			failedSessions := notify.Data{Kind: diff.StatusChanged, ProjectID: project, TaskID: "b2", TaskName: "sessions-import",
				CurrentStatus: &notify.StatusInfo{Raw: "FAILED", Normalized: "FAILED"}, Outcome: dcs.OutcomeFailed, Severity: "critical"}

			code, out, errOut := run("add", "--match", "name=sessions-*", "--match", "outcome=failed", "--for", "2h", "--comment", "rdb being rebuilt")
			fields := strings.Fields(out)
			if code != 0 || len(fields) < 3 || !strings.HasPrefix(out, "added silence ") {
				t.Fatalf("silence add: exit %d, stdout %q, stderr %s", code, out, errOut)
			}
			id := fields[2]
			testutil.Eventually(t, "the running watcher to hold the failure under "+id, func() bool {
				got, ok := h.app.Silences.Silenced(failedSessions, time.Now())
				return ok && got == id
			})

			code, out, errOut = run("ls")
			if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "name=sessions-* outcome=failed") ||
				!strings.Contains(out, "ana") || !strings.Contains(out, "rdb being rebuilt") {
				t.Errorf("silence ls: exit %d, stdout %q, stderr %s", code, out, errOut)
			}

			if code, out, errOut = run("rm", id); code != 0 || !strings.Contains(out, "removed silence "+id) {
				t.Fatalf("silence rm: exit %d, stdout %q, stderr %s", code, out, errOut)
			}
			testutil.Eventually(t, "the running watcher to drop the removed silence", func() bool {
				_, ok := h.app.Silences.Silenced(failedSessions, time.Now())
				return !ok
			})
			if code, out, _ = run("ls"); code != 0 || strings.TrimSpace(out) != "no silences" {
				t.Errorf("silence ls after rm: exit %d, %q", code, out)
			}
			if code, _, errOut = run("rm", id); code != 1 || !strings.Contains(errOut, "no such silence") {
				t.Errorf("second rm: exit %d, stderr %s; want 1 and no such silence", code, errOut)
			}
			if code, _, errOut = run("add", "--match", "colour=red", "--for", "1h"); code != 2 || !strings.Contains(errOut, `--match "colour=red"`) {
				t.Errorf("bad --match: exit %d, stderr %s; want 2 naming the flag", code, errOut)
			}
		})
	}
}

// TestSilenceMarksPublishedEvents: the watcher started through app marks
// what a silence holds: the failure of sessions-import is published at
// 30 s, marked with the silence added while it ran; the other tasks'
// events are not marked.
func TestSilenceMarksPublishedEvents(t *testing.T) {
	h, _, s := silencedRun(t)
	var marked []string
	for _, e := range h.published() {
		if e.Data.Silenced != "" {
			marked = append(marked, e.Data.TaskName+" "+string(e.Data.Kind)+" "+e.Data.Silenced)
		}
	}
	if want := "sessions-import status_changed " + s.ID; len(marked) != 1 || marked[0] != want {
		t.Errorf("marked %q, want only %q", marked, want)
	}
}

// TestSilenceHidesAndCatchesUp: a silenced failure is not posted to Slack;
// once the silence is removed, the task, still failing, is posted once
// (the catch-up, naming the silence), and a second round posts nothing.
func TestSilenceHidesAndCatchesUp(t *testing.T) {
	h, st, s := silencedRun(t)
	silenced := 0
	for _, e := range h.published() {
		if e.Data.Silenced == s.ID {
			silenced++
		}
	}
	if silenced != 1 {
		t.Fatalf("%d events silenced, want the failure", silenced)
	}
	// Slack has the scenario's other posts, and never the silenced one.
	testutil.Eventually(t, "the Slack notifier to take every event", func() bool {
		pending, err := h.app.Slack.Pending(h.ctx)
		return err == nil && pending == 0
	})
	sessions := func() []string {
		var out []string
		for _, p := range h.slack.all() {
			if strings.Contains(p.raw, "sessions-import") && strings.Contains(p.raw, "FAILED") {
				out = append(out, p.raw)
			}
		}
		return out
	}
	if got := sessions(); len(got) != 0 {
		t.Fatalf("the silenced failure reached Slack:\n%s", got[0])
	}
	if n, err := h.app.CatchUp(h.ctx); err != nil || n != 0 {
		t.Fatalf("catch-up while the silence holds: %d posted, %v", n, err)
	}

	if err := st.Remove(h.ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the catch-up to be posted", func() bool {
		n, err := h.app.CatchUp(h.ctx)
		if err != nil {
			t.Logf("catch-up: %v", err)
		}
		return n == 1
	})
	testutil.Eventually(t, "the catch-up to reach Slack", func() bool { return len(sessions()) == 1 })
	if got := sessions()[0]; !strings.Contains(got, s.ID) || !strings.Contains(got, "has ended") {
		t.Errorf("the catch-up does not name its silence:\n%s", got)
	}
	if n, err := h.app.CatchUp(h.ctx); err != nil || n != 0 {
		t.Errorf("a second round posted %d (%v), want 0", n, err)
	}
	testutil.Eventually(t, "the Slack notifier to take the catch-up", func() bool {
		pending, err := h.app.Slack.Pending(h.ctx)
		return err == nil && pending == 0
	})
	if got := sessions(); len(got) != 1 {
		t.Errorf("%d posts of the failure, want the one catch-up", len(got))
	}
}

// silencedRun starts the watcher through app with a silence on
// sessions-import's failure (added, and seen by the watcher, before the
// first cycle) and runs the scenario's cycles to 35 s: the failure is
// published at 30 s, while the silence holds.
func silencedRun(t *testing.T) (*harness, *silence.Store, silence.Silence) {
	t.Helper()
	h := newHarness(t, e2eScenario, nil)
	st, err := silence.Open(h.ctx, h.app.Broker.JS, h.cfg.Slack.SilencesBucket, 1, h.clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	s, err := st.Add(h.ctx, silence.Silence{Matchers: []string{"name=sessions-*", "outcome=failed"}, End: h.t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	probe := notify.Data{Kind: diff.StatusChanged, ProjectID: project, TaskName: "sessions-import", Outcome: dcs.OutcomeFailed, Severity: "critical"}
	testutil.Eventually(t, "the watcher to see the silence", func() bool {
		_, ok := h.app.Silences.Silenced(probe, h.t0)
		return ok
	})
	for _, at := range []time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second, 35 * time.Second} {
		_, _ = h.cycleAt(at) // the scenario's outage fails the cycle at 25-30 s
	}
	return h, st, s
}
