package statuspage_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/httpserver"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/statuspage"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// chromium is the browser the test drives: $CHROME_PATH, else Debian's
// chromium package; "" when neither is there.
func chromium() string {
	for _, p := range []string{os.Getenv("CHROME_PATH"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// pipeline is the real watcher (embedded NATS, KV, poller, the status
// page on the HTTP listener) against the simulator playing a fleet, on
// a hand-driven clock.
type pipeline struct {
	t    *testing.T
	ctx  context.Context
	t0   time.Time
	clk  *testutil.Clock
	sc   *sim.Scenario
	app  *app.App
	addr string
}

// scriptName is the name of one task of the fleet: markup a page must
// show as text.
const scriptName = `<script>window.__xss=1</script> orders`

func newPipeline(t *testing.T, tasks int) *pipeline {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p := &pipeline{t: t, ctx: ctx, t0: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	p.clk = testutil.NewClock(p.t0)
	p.sc = sim.Fleet(sim.FleetOptions{Tasks: tasks, Seed: 18, ChangeRate: 0.5, ChangeFrom: time.Minute, ChangeTo: 3 * time.Minute})
	p.sc.Tasks[0].Name = scriptName
	api := httptest.NewServer(sim.New(p.sc, sim.Options{Clock: p.clk.Now, Start: p.t0}))
	t.Cleanup(api.Close)

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DCS.Endpoint, cfg.DCS.ProjectID = api.URL, p.sc.ProjectID
	cfg.DCS.RateLimit, cfg.DCS.Timeout = 1000, 5*time.Second
	cfg.NATS.Listen = "127.0.0.1:0"
	cfg.HTTP.Listen, cfg.HTTP.StatusPage = "127.0.0.1:0", true
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	page := statuspage.NewPage()
	logs := &testutil.SyncBuffer{}
	a, err := app.Start(ctx, cfg, app.Options{Logger: zerolog.New(logs), Now: p.clk.Now, StatusPage: page})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	p.app = a
	t.Cleanup(a.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watcher logs:\n%s", logs.String())
		}
	})
	done := make(chan struct{})
	go func() { defer close(done); _ = a.ServeStatus(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	srv, err := httpserver.Start(cfg.HTTP.Listen, httpserver.Handler(httpserver.Options{
		Registry: prometheus.NewRegistry(), Ready: func() error { return nil }, StatusPage: page,
	}), httpserver.TLSFiles{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	p.addr = "http://" + srv.Addr()
	return p
}

// cycleAt sets the clock to t0+d and runs one watch cycle.
func (p *pipeline) cycleAt(d time.Duration) {
	p.t.Helper()
	p.clk.Set(p.t0.Add(d))
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if _, err := p.app.Poller.Cycle(ctx); err != nil {
		p.t.Fatalf("cycle at %s: %v", d, err)
	}
}

// browser is one headless Chromium for the test, every run bounded.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium()
	if path == "" {
		t.Skip("no Chromium: install Debian's chromium package (.ci/run does) or set CHROME_PATH to run the browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return bctx
}

// do runs steps with a deadline.
func do(t *testing.T, bctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action that reads a value, with a deadline.
func get[T any](t *testing.T, bctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// waitJS waits until expr is true in the page, within d: a condition
// with a deadline, not a pause.
func waitJS(expr string, d time.Duration) chromedp.Action[chromedp.Void] {
	poll := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(50*time.Millisecond))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := poll(ctx, t)
		if err != nil {
			err = fmt.Errorf("waiting for %s: %w", expr, err)
		}
		return chromedp.Void{}, err
	}
}

// submit submits the filter form and waits for the page it loads.
func submit(t *testing.T, bctx context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.CSS(`form.filters`)))
	if err != nil {
		t.Fatalf("submit the filters: %v", err)
	}
	if resp.Status != 200 {
		t.Fatalf("submit the filters: HTTP %d", resp.Status)
	}
}

func eval(expr string) chromedp.Action[chromedp.Void] { return chromedp.Evaluate[chromedp.Void](expr) }

// screenshot writes what the window shows (PNG) to the test's artifact
// directory (kept with go test -artifacts -outputdir DIR).
func screenshot(t *testing.T, bctx context.Context, name string) {
	t.Helper()
	png := get(t, bctx, "screenshot "+name, chromedp.CaptureScreenshot())
	path := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of %s: %s", name, path)
}

// TestBrowserStatusPage drives the status page in headless Chromium
// against the real pipeline and a 200-task fleet: every task is listed,
// the filter and the search narrow the list, a name holding markup shows
// as text, a task page draws one timeline segment per status, and a
// status change in the simulator reaches both open pages without a reload.
func TestBrowserStatusPage(t *testing.T) {
	bctx := browser(t)
	p := newPipeline(t, 200)
	p.cycleAt(0)
	full := 0
	for _, ts := range p.sc.Tasks {
		if *ts.Steps[0].Status == "FULLMIGRATING" {
			full++
		}
	}

	do(t, bctx, "the list", chromedp.Navigate(p.addr+"/"),
		waitJS(`document.querySelectorAll("tr.task").length === 200`, 15*time.Second))
	shown := get(t, bctx, "the count", chromedp.Text(chromedp.CSS(`#shown`)))
	scriptText := get(t, bctx, "the markup name", chromedp.Text(chromedp.CSS(`tr[data-id="`+p.sc.Tasks[0].ID+`"] a.task-name`)))
	if shown != "200" || scriptText != scriptName {
		t.Errorf("list shows %q tasks and the markup name as %q, want 200 and the name as text", shown, scriptText)
	}
	if get(t, bctx, "no script ran", chromedp.Evaluate[bool](`window.__xss === 1`)) {
		t.Error("the markup in a task name ran as script")
	}
	screenshot(t, bctx, "list")

	do(t, bctx, "filter by status", chromedp.SetValue(chromedp.CSS(`input[name="status"]`), "fullmigrating"))
	submit(t, bctx)
	do(t, bctx, "the filtered list", waitJS(fmt.Sprintf(`document.querySelectorAll("tr.task").length === %d && [...document.querySelectorAll("tr.task")].every(r => r.dataset.status === "FULLMIGRATING")`, full), 10*time.Second))
	screenshot(t, bctx, "list-filtered")
	target := p.sc.Tasks[7]
	do(t, bctx, "search by name", chromedp.Navigate(p.addr+"/"),
		waitJS(`document.querySelectorAll("tr.task").length === 200`, 10*time.Second),
		chromedp.SetValue(chromedp.CSS(`input[name="q"]`), target.Name))
	submit(t, bctx)
	do(t, bctx, "the search's answer", waitJS(`[...document.querySelectorAll("tr.task")].some(r => r.dataset.id === "`+target.ID+`") && document.querySelectorAll("tr.task").length < 200`, 10*time.Second))

	// The first planned change: open its task's page, then let the
	// simulator make it.
	ch := p.sc.StatusChanges()[0]
	do(t, bctx, "the task page", chromedp.Navigate(p.addr+"/tasks/"+p.sc.ProjectID+"/"+ch.TaskID),
		waitJS(`document.querySelectorAll("svg.timeline rect.segment").length === 1`, 10*time.Second),
		waitJS(`document.body.dataset.live === "open"`, 10*time.Second),
		eval(`window.__notReloaded = true`))
	p.cycleAt(ch.At)
	do(t, bctx, "the change on the open task page",
		waitJS(fmt.Sprintf(`document.querySelector("dd.status").textContent.startsWith(%q) && document.querySelectorAll("svg.timeline rect.segment").length === 2`, ch.Status), 5*time.Second))
	if !get(t, bctx, "not reloaded", chromedp.Evaluate[bool](`window.__notReloaded === true`)) {
		t.Error("the task page was reloaded, not patched")
	}
	statuses := get(t, bctx, "the timeline", chromedp.Evaluate[[]string](`[...document.querySelectorAll("svg.timeline rect.segment")].map(r => r.dataset.status)`))
	if first := *taskSpec(p.sc, ch.TaskID).Steps[0].Status; strings.Join(statuses, ",") != first+","+ch.Status {
		t.Errorf("timeline segments %v, want %s then %s", statuses, first, ch.Status)
	}
	screenshot(t, bctx, "task")

	// The next change, on the open list.
	next := p.sc.StatusChanges()[1]
	do(t, bctx, "the list again", chromedp.Navigate(p.addr+"/"),
		waitJS(`document.querySelectorAll("tr.task").length === 200`, 10*time.Second),
		waitJS(`document.body.dataset.live === "open"`, 10*time.Second),
		eval(`window.__notReloaded = true`))
	p.cycleAt(next.At)
	do(t, bctx, "the change on the open list",
		waitJS(fmt.Sprintf(`window.__notReloaded === true && document.querySelector('tr[data-id="%s"]').dataset.status === %q`, next.TaskID, next.Status), 5*time.Second))
	screenshot(t, bctx, "list-live")
}

func taskSpec(sc *sim.Scenario, id string) *sim.TaskSpec {
	for i := range sc.Tasks {
		if sc.Tasks[i].ID == id {
			return &sc.Tasks[i]
		}
	}
	return nil
}
