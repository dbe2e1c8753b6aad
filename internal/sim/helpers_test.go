package sim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// testStart is the scenario start of every test server.
var testStart = time.Date(2024, 11, 26, 8, 0, 0, 0, time.UTC)

// clock is a hand-driven clock: tests move the scenario by setting it.
type clock struct{ *testutil.Clock }

func newClock() *clock { return &clock{testutil.NewClock(testStart)} }

// at sets the clock to the scenario start plus d.
func (c *clock) at(d time.Duration) { c.Set(testStart.Add(d)) }

// fixture is a simulator on loopback with its clock.
type fixture struct {
	srv   *sim.Server
	http  *httptest.Server
	clock *clock
}

func start(t *testing.T, sc *sim.Scenario, o sim.Options) *fixture {
	t.Helper()
	c := newClock()
	if o.Clock == nil {
		o.Clock = c.Now
	}
	if o.Start.IsZero() {
		o.Start = testStart
	}
	srv := sim.New(sc, o)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &fixture{srv: srv, http: hs, clock: c}
}

func parse(t *testing.T, doc string) *sim.Scenario {
	t.Helper()
	sc, err := sim.ParseScenario([]byte(doc))
	if err != nil {
		t.Fatalf("ParseScenario: %v", err)
	}
	return sc
}

// reply is an HTTP answer, read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// obj decodes the body as a JSON object.
func (r reply) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

func (f *fixture) get(t *testing.T, path string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.http.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

// wantError checks an error answer's status and error_code.
func wantError(t *testing.T, r reply, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	m := r.obj(t)
	if m["error_code"] != code {
		t.Fatalf("error_code = %v, want %s; body %s", m["error_code"], code, r.body)
	}
	return m
}

// field reads a nested field of a decoded object: field(m, "source_instance", "port").
func field(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[p]
	}
	return v
}
