package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// scrape is the text /metrics serves for m's registry.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type taskStats struct {
	project, id string
	st          dcs.Stats
}

func each(tasks *[]taskStats) func(fn func(project, taskID string, st dcs.Stats)) {
	return func(fn func(project, taskID string, st dcs.Stats)) {
		for _, ts := range *tasks {
			fn(ts.project, ts.id, ts.st)
		}
	}
}

// TestTaskGauges: a scrape shows each active task's progress and lag by
// project and task id, nothing for an unknown value; a task that leaves
// loses its series; past the cap the series are left out and counted.
func TestTaskGauges(t *testing.T) {
	pct, lag := 63.5, int64(4096)
	tasks := []taskStats{
		{"p1", "full-1", dcs.Stats{Percent: &pct}},
		{"p1", "incr-1", dcs.Stats{Lag: &lag}},
	}
	m := New(nil)
	m.Attach(Sources{Progress: each(&tasks)})
	got := scrape(t, m)
	for _, want := range []string{
		`dcs_watcher_task_progress_percent{project="p1",task_id="full-1"} 63.5`,
		`dcs_watcher_task_lag{project="p1",task_id="incr-1"} 4096`,
		`dcs_watcher_task_series_dropped 0`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("scrape lacks %s; it has:\n%s", want, grep(got, "dcs_watcher_task_"))
		}
	}
	for _, bad := range []string{`dcs_watcher_task_lag{project="p1",task_id="full-1"}`, `dcs_watcher_task_progress_percent{project="p1",task_id="incr-1"}`} {
		if strings.Contains(got, bad) {
			t.Errorf("scrape has %s for a value the API did not send", bad)
		}
	}

	tasks = tasks[1:] // full-1 left the active phase
	if got := scrape(t, m); strings.Contains(got, `task_id="full-1"`) {
		t.Errorf("a task that left keeps its series:\n%s", grep(got, "dcs_watcher_task_"))
	}

	tasks = nil
	for i := range maxTaskSeries + 25 {
		tasks = append(tasks, taskStats{"p2", fmt.Sprintf("t%05d", i), dcs.Stats{Percent: &pct}})
	}
	got = scrape(t, m)
	if n := strings.Count(got, "dcs_watcher_task_progress_percent{"); n != maxTaskSeries {
		t.Errorf("%d progress series for %d tasks, want the cap %d", n, len(tasks), maxTaskSeries)
	}
	if !strings.Contains(got, "dcs_watcher_task_series_dropped 25") {
		t.Errorf("dropped series not counted: %s", grep(got, "dcs_watcher_task_series_dropped"))
	}
	if !strings.Contains(got, `task_id="t00000"`) || strings.Contains(got, fmt.Sprintf(`task_id="t%05d"`, maxTaskSeries)) {
		t.Errorf("the cap should keep the first tasks by id and drop the last")
	}
}

func grep(text, prefix string) string {
	var out []string
	for l := range strings.Lines(text) {
		if strings.HasPrefix(l, prefix) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, "\n")
}
