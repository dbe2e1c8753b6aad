package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// runBin runs the binary to its end and returns its exit code, stdout and
// stderr.
func runBin(t *testing.T, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	}
	t.Fatalf("run %v: %v", args, err)
	return 0, "", ""
}

// opsConfig is a watcher on the simulator and an external NATS, with its
// HTTP server on a free port.
func opsConfig(dataDir, endpoint, natsURL, schedule string) string {
	return fmt.Sprintf(`log: {level: info, format: json}
data_dir: %q
dcs: {endpoint: %q, project_id: %q, rate_limit: 1000, timeout: 5s}
poll: {schedule: %q}
nats: {url: %q}
slack: {enabled: true, group_min: 0, rate: 10, min_retry_delay: 200ms, max_retry_delay: 2s, timeout: 5s}
http: {listen: "127.0.0.1:0"}
`, dataDir, endpoint, sim.FleetProjectID, schedule, natsURL)
}

var httpAddrRe = regexp.MustCompile(`"addr":"([^"]+)"[^\n]*"message":"serving /metrics`)

// httpAddr is the address the watcher's log says it serves on.
func httpAddr(t *testing.T, logs *testutil.SyncBuffer) string {
	t.Helper()
	m := httpAddrRe.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no HTTP address in the logs:\n%s", logs.String())
	}
	return m[1]
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get("http://" + addr + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// TestMetricsAndReadiness runs the binary with http.listen against the
// simulator and an external NATS: /metrics parses and holds every family,
// with no task id in any label; /readyz turns 503 when NATS goes away
// and 200 again when it is back; `watcher health` asks /healthz.
func TestMetricsAndReadiness(t *testing.T) {
	bin := watcherBinary(t)
	storeDir := t.TempDir()
	srv := testutil.RunJetStream(t, -1, storeDir)
	port := srv.Addr().(*net.TCPAddr).Port
	s := startSim(t, bin, sim.FleetOptions{Tasks: 30, Seed: 5, ChangeRate: 3, ChangeFrom: 0, ChangeTo: 20 * time.Second}, time.Now())
	slack := newSlackServer(t)
	logs := &testutil.SyncBuffer{}
	cfg := testutil.WriteFile(t, "watcher.yaml", opsConfig(t.TempDir(), s.url, srv.ClientURL(), "@every 1s"))
	w := startWatcher(t, bin, cfg, watcherEnv(slack.URL), logs)
	addr := httpAddr(t, logs)

	testutil.EventuallyWithin(t, 20*time.Second, "/readyz ready", func() bool { c, _ := get("http://" + addr + "/readyz"); return c == 200 })
	testutil.EventuallyWithin(t, 30*time.Second, "status changes published and posted", func() bool {
		f := scrape(t, addr)
		return f["dcs_watcher_events_published_total"] != nil && f["dcs_watcher_slack_deliveries_total"] != nil &&
			sample(f, "dcs_watcher_slack_deliveries_total", "outcome", "sent") > 0
	})
	fams := scrape(t, addr)
	for _, name := range []string{
		"dcs_watcher_api_calls_total", "dcs_watcher_api_call_duration_seconds", "dcs_watcher_cycles_total",
		"dcs_watcher_cycle_duration_seconds", "dcs_watcher_events_published_total", "dcs_watcher_tasks",
		"dcs_watcher_slack_deliveries_total", "dcs_watcher_nats_connected", "dcs_watcher_last_successful_cycle_timestamp_seconds",
	} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if v := sample(fams, "dcs_watcher_api_calls_total", "call", "list"); v == 0 {
		t.Errorf("no list call counted")
	}
	if v := sample(fams, "dcs_watcher_nats_connected", "", ""); v != 1 {
		t.Errorf("nats_connected = %v, want 1", v)
	}
	var tasks float64
	for _, m := range fams["dcs_watcher_tasks"].GetMetric() {
		tasks += m.GetGauge().GetValue()
	}
	if tasks != 30 {
		t.Errorf("dcs_watcher_tasks sums to %v, want the fleet's 30", tasks)
	}
	// Nothing unbounded: no label carries a task id or name.
	ids := map[string]bool{}
	for _, tk := range s.truth(t).Tasks {
		ids[tk.ID], ids[tk.Name] = true, true
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if ids[l.GetValue()] || strings.Contains(l.GetName(), "task") {
					t.Errorf("%s has label %s=%q: a task's", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	if code, _, errOut := runBin(t, bin, childEnv(), "health", "--addr", addr); code != 0 {
		t.Errorf("watcher health: exit %d, %s", code, errOut)
	}
	// The image's way: http.listen read from the config, which needs
	// nothing else of it.
	healthCfg := testutil.WriteFile(t, "watcher.yaml", fmt.Sprintf("http: {listen: %q}\n", addr))
	if code, out, errOut := runBin(t, bin, childEnv(), "health", "-c", healthCfg); code != 0 || out != "healthy\n" {
		t.Errorf("watcher health -c: exit %d, %s%s", code, out, errOut)
	}

	srv.Shutdown()
	srv.WaitForShutdown()
	testutil.EventuallyWithin(t, 20*time.Second, "/readyz not ready without NATS", func() bool {
		c, body := get("http://" + addr + "/readyz")
		return c == http.StatusServiceUnavailable && strings.Contains(body, "NATS not connected")
	})
	if c, _ := get("http://" + addr + "/healthz"); c != 200 {
		t.Errorf("/healthz = %d while NATS is away, want 200 (the process is up)", c)
	}
	_ = testutil.RunJetStream(t, port, storeDir)
	testutil.EventuallyWithin(t, 30*time.Second, "/readyz ready again", func() bool { c, _ := get("http://" + addr + "/readyz"); return c == 200 })
	w.stop(t)
	if code, _, _ := runBin(t, bin, childEnv(), "health", "--addr", addr, "--timeout", "2s"); code != 1 {
		t.Errorf("watcher health against a stopped watcher: exit %d, want 1", code)
	}
}

// sample is the value of the first sample of family name whose label
// key is value (any sample when key is ""), summed for counters of
// several label sets; 0 when none.
func sample(fams map[string]*dto.MetricFamily, name, key, value string) float64 {
	var sum float64
	for _, m := range fams[name].GetMetric() {
		match := key == ""
		for _, l := range m.GetLabel() {
			if l.GetName() == key && l.GetValue() == value {
				match = true
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// TestSIGHUPReload sends SIGHUP to a running binary: a config with an
// error is refused with a log line naming the key, the watcher keeps
// polling with the old one; a good one restarts it with the new one.
func TestSIGHUPReload(t *testing.T) {
	bin := watcherBinary(t)
	srv := testutil.RunJetStream(t, -1, t.TempDir())
	s := startSim(t, bin, sim.FleetOptions{Tasks: 5, Seed: 6}, time.Now())
	slack := newSlackServer(t)
	logs := &testutil.SyncBuffer{}
	dataDir := t.TempDir()
	cfg := testutil.WriteFile(t, "watcher.yaml", opsConfig(dataDir, s.url, srv.ClientURL(), "@every 1s"))
	w := startWatcher(t, bin, cfg, watcherEnv(slack.URL), logs)
	addr := httpAddr(t, logs)
	cycles := func() int { return strings.Count(logs.String(), `"message":"cycle"`) }

	if err := os.WriteFile(cfg, []byte(strings.Replace(opsConfig(dataDir, s.url, srv.ClientURL(), "@every 1s"), "@every 1s", "@evry 2s", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = w.cmd.Process.Signal(syscall.SIGHUP)
	testutil.EventuallyWithin(t, 10*time.Second, "the bad config refused", func() bool {
		return strings.Contains(logs.String(), "reload refused") && strings.Contains(logs.String(), `poll.schedule: invalid cron spec`)
	})
	after := cycles()
	testutil.EventuallyWithin(t, 10*time.Second, "cycles go on with the old config", func() bool { return cycles() >= after+2 })
	if strings.Contains(logs.String(), "config reloaded") {
		t.Fatalf("a bad config was taken:\n%s", logs.String())
	}

	if err := os.WriteFile(cfg, []byte(opsConfig(dataDir, s.url, srv.ClientURL(), "@every 2s")), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = w.cmd.Process.Signal(syscall.SIGHUP)
	testutil.EventuallyWithin(t, 20*time.Second, "the good config taken", func() bool {
		return strings.Contains(logs.String(), "config reloaded") &&
			strings.Contains(logs.String(), `"schedule":"@every 2s","nats"`)
	})
	// The same process, its HTTP server still up, and ready again.
	testutil.EventuallyWithin(t, 20*time.Second, "/readyz after the reload", func() bool { c, _ := get("http://" + addr + "/readyz"); return c == 200 })
	w.stop(t)
}

// TestVersion: `watcher version` of the built binary exits 0 with its
// version, commit and Go version; a wrong flag is a usage error (exit 2).
func TestVersion(t *testing.T) {
	bin := watcherBinary(t)
	code, out, errOut := runBin(t, bin, childEnv(), "version")
	if code != 0 || !strings.HasPrefix(out, "watcher ") || !strings.Contains(out, "\ncommit ") || !strings.Contains(out, "go1.") {
		t.Errorf("watcher version: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, _ := runBin(t, bin, childEnv(), "run", "--no-such-flag"); code != 2 {
		t.Errorf("watcher run --no-such-flag: exit %d, want 2", code)
	}
}
