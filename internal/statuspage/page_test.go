package statuspage

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/state"
)

func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// fleet writes a few tasks: one failed, one stalled, one whose name is
// markup, the rest running.
func fleet(f *fixture) {
	failed := fxTask("t-f", "billing", "FAILED")
	failed.ErrorMessage = "AUTH failed: password=PLANTED-PW-IN-REASON rejected"
	f.observe(diff.Discovered, nil, failed, 0, 0)
	f.observe(diff.Discovered, nil, fxTask("t-a", "alpha", "RUNNING"), 0, 0)
	f.observe(diff.Discovered, nil, fxTask("t-x", `<script>alert("x")</script>`, "FULLMIGRATING"), 0, 0)
	f.observe(diff.Discovered, nil, fxTask("t-s", "zeta-stuck", "FULLMIGRATING"), 0, 0)
	f.observeWith(diff.Stalled, nil, fxTask("t-s", "zeta-stuck", "FULLMIGRATING"), time.Minute, 0, stall("progress_stalled"))
	waitFor(f.t, "four tasks, the stall read", func() bool {
		for _, id := range []string{"t-f", "t-a", "t-x"} {
			if _, ok := f.model.Task(fxProject, id); !ok {
				return false
			}
		}
		v, _ := f.model.Task(fxProject, "t-s")
		return v.Stalled
	})
}

// stall opens an attention episode of condition, in the record and the
// stalled event, as the poller writes them.
func stall(condition string) func(*state.Record, *notify.Envelope) {
	return func(rec *state.Record, env *notify.Envelope) {
		a := diff.Attention{Condition: condition, Episode: 1, Since: rec.WrittenAt}
		rec.Attention = []diff.Attention{a}
		env.Data.Attention = &a
	}
}

// TestListSortsFiltersAndEscapes: failures first, then stalls; the filters
// and the search select by project, status, outcome, name and id; a name
// holding markup is text; the page is served with a strict CSP.
func TestListSortsFiltersAndEscapes(t *testing.T) {
	f := newFixture(t, Options{})
	fleet(f)
	resp, body := get(t, f.srv.URL+"/")
	if resp.StatusCode != 200 {
		t.Fatalf("GET / = %d %s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q, want default-src 'self' and nothing inline", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no X-Content-Type-Options: nosniff")
	}
	if strings.Contains(body, `<script>alert`) || !strings.Contains(body, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`) {
		t.Errorf("the markup name is not escaped text:\n%s", body)
	}
	order := []string{`data-id="t-f"`, `data-id="t-s"`, `data-id="t-x"`, `data-id="t-a"`}
	last := -1
	for _, id := range order {
		i := strings.Index(body, id)
		if i < last {
			t.Errorf("%s out of order: want failed, stalled, then the running ones by name", id)
		}
		last = i
	}
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"outcome=failed", []string{"t-f"}},
		{"status=fullmigrating", []string{"t-s", "t-x"}},
		{"q=ALP", []string{"t-a"}},
		{"q=t-s", []string{"t-s"}},
		{"project=" + fxProject + "&outcome=in_progress", []string{"t-s", "t-x", "t-a"}},
		{"project=other", nil},
	} {
		_, js := get(t, f.srv.URL+"/api/tasks?"+tt.query)
		var got struct{ Tasks []TaskView }
		if err := json.Unmarshal([]byte(js), &got); err != nil {
			t.Fatalf("api %s: %v", tt.query, err)
		}
		var ids []string
		for _, v := range got.Tasks {
			ids = append(ids, v.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
			t.Errorf("?%s = %v, want %v", tt.query, ids, tt.want)
		}
		_, html := get(t, f.srv.URL+"/?"+tt.query)
		if n := strings.Count(html, `<tr class="task`); n != len(tt.want) {
			t.Errorf("page ?%s shows %d rows, want %d", tt.query, n, len(tt.want))
		}
	}
}

// TestNoPasswordReachesThePage: a password planted in a snapshot (as a
// writer that did not drop it would leave it) and one quoted in a failure
// reason appear on no page and in no JSON.
func TestNoPasswordReachesThePage(t *testing.T) {
	f := newFixture(t, Options{})
	kv, err := f.js.KeyValue(f.ctx, fxBucket)
	if err != nil {
		t.Fatal(err)
	}
	raw := `{"task":{"task_id":"t-p","task_name":"leaky","status":"RUNNING",` +
		`"source_instance":{"name":"src","addrs":"10.0.0.9:6379","password":"PLANTED-PW-IN-SNAPSHOT"},` +
		`"target_instance":{"name":"dst","ip":"10.0.0.10","port":"6379","password":"PLANTED-PW-IN-SNAPSHOT"}}}`
	if _, err := kv.Put(f.ctx, state.Key(fxProject, "t-p"), []byte(raw)); err != nil {
		t.Fatal(err)
	}
	fleet(f)
	waitFor(t, "the planted snapshot", func() bool { _, ok := f.model.Task(fxProject, "t-p"); return ok })
	for _, p := range []string{"/", "/api/tasks", "/tasks/" + fxProject + "/t-p", "/api/tasks/" + fxProject + "/t-p",
		"/tasks/" + fxProject + "/t-f", "/api/tasks/" + fxProject + "/t-f"} {
		resp, body := get(t, f.srv.URL+p)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d", p, resp.StatusCode)
		}
		if strings.Contains(body, "PLANTED-PW") {
			t.Errorf("GET %s shows a planted password:\n%s", p, body)
		}
	}
	_, body := get(t, f.srv.URL+"/tasks/"+fxProject+"/t-p")
	if !strings.Contains(body, "10.0.0.9:6379") || !strings.Contains(body, "10.0.0.10:6379") {
		t.Errorf("task page lacks the addresses:\n%s", body)
	}
}

// TestTaskPageDrawsTimeline: one SVG rect per status, and a task page of
// no task is a 404 naming it.
func TestTaskPageDrawsTimeline(t *testing.T) {
	f := newFixture(t, Options{})
	run, full := fxTask("t-1", "orders", "RUNNING"), fxTask("t-1", "orders", "FULLMIGRATING")
	f.observe(diff.Discovered, nil, run, 0, 0)
	f.observe(diff.StatusChanged, run, full, 5*time.Minute, 5*time.Minute)
	f.waitTask("t-1", "both events", func(v TaskView) bool { return len(v.Events) == 2 && v.Status == "FULLMIGRATING" })
	_, body := get(t, f.srv.URL+"/tasks/"+fxProject+"/t-1")
	if n := strings.Count(body, `class="segment"`); n != 2 {
		t.Errorf("%d timeline segments, want 2:\n%s", n, body)
	}
	resp, body := get(t, f.srv.URL+"/tasks/"+fxProject+"/nope")
	if resp.StatusCode != 404 || !strings.Contains(body, `"nope"`) {
		t.Errorf("missing task = %d %q, want 404 naming it", resp.StatusCode, body)
	}
}

// TestEventsAnnounceChanges: /events tells an open page of each change.
func TestEventsAnnounceChanges(t *testing.T) {
	f := newFixture(t, Options{})
	resp, err := http.Get(f.srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	f.observe(diff.Discovered, nil, fxTask("t-9", "new one", "RUNNING"), 0, 0)
	want := `data: {"project":"` + fxProject + `","task":"t-9"}`
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended")
			}
			if l == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %s within 10s", want)
		}
	}
}

// TestPageWithoutModel: before the app hands a model over the page says
// it is starting.
func TestPageWithoutModel(t *testing.T) {
	p := NewPage()
	for _, path := range []string{"/", "/api/tasks", "/events"} {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, &http.Request{Method: "GET", URL: &url.URL{Path: path}, Header: http.Header{}})
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s = %d, want 503", path, rec.Code)
		}
	}
}
