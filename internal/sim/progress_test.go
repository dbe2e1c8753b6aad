package sim_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/sim"
)

// progressScenario: a full sync that ramps, stalls, resumes and goes
// incremental with a lag that grows, then catches up; a backup import that
// fails with log lines, one holding its target's password.
const progressScenario = `
project_id: ` + project + `
tasks:
  - id: full1
    name: carts-full-sync
    steps:
      - {at: 0s, status: RUNNING}
      - at: 10s
        status: FULLMIGRATING
        progress: {percent: {from: 0, to: 60}, source_dbsize: 1000, kbps: 2048.5, ops: 3000}
      - at: 40s
        progress: {kbps: 0, ops: 0}
      - at: 70s
        progress: {percent: {from: 60, to: 100, over: 20s}, kbps: 1024}
      - at: 100s
        status: INCRMIGEATING
        progress: {lag: {from: 0, to: 5000}}
      - at: 130s
        progress: {lag: 0}
  - id: fail1
    name: sessions-import
    target: {id: dst, password: Planted-Log-Pw-9}
    steps:
      - {at: 0s, status: MIGRATING, logs: [{message: import started, code: MIG.0001}]}
      - at: 20s
        status: FAILED
        progress: {migrating: false}
        logs:
          - {level: ERROR, message: "read sessions.rdb: unexpected EOF", code: MIG.0102, keywords: [sessions.rdb]}
          - {after: 1s, level: error, message: "target refused AUTH Planted-Log-Pw-9"}
          - {after: 2s, level: WARN, message: "giving up after 3 attempts"}
`

func statsPath(id string) string { return detailPath(id) + "/stats" }

func logsPath(id, query string) string { return detailPath(id) + "/logs" + query }

// The stats call answers the step's progress, every number as a string:
// ramps interpolate, a step that sets nothing holds, offset "0" is sent.
func TestStatsFollowTheScenario(t *testing.T) {
	f := start(t, parse(t, progressScenario), sim.Options{})
	tests := []struct {
		at   time.Duration
		want string
	}{
		{5 * time.Second, `{"is_migrating":false}`},
		{10 * time.Second, `{"full_migration_progress":"0","source_dbsize":"1000","target_dbsize":"0","target_input_kbps":"2048.5","target_ops":"3000","is_migrating":true}`},
		{25 * time.Second, `{"full_migration_progress":"30","source_dbsize":"1000","target_dbsize":"300","target_input_kbps":"2048.5","target_ops":"3000","is_migrating":true}`},
		// The stall: percent held from 40 s to 70 s.
		{40 * time.Second, `{"full_migration_progress":"60","source_dbsize":"1000","target_dbsize":"600","target_input_kbps":"0","target_ops":"0","is_migrating":true}`},
		{69 * time.Second, `{"full_migration_progress":"60","source_dbsize":"1000","target_dbsize":"600","target_input_kbps":"0","target_ops":"0","is_migrating":true}`},
		{75 * time.Second, `{"full_migration_progress":"70","source_dbsize":"1000","target_dbsize":"700","target_input_kbps":"1024","target_ops":"0","is_migrating":true}`},
		{95 * time.Second, `{"full_migration_progress":"100","source_dbsize":"1000","target_dbsize":"1000","target_input_kbps":"1024","target_ops":"0","is_migrating":true}`},
		{115 * time.Second, `{"full_migration_progress":"100","offset":"2500","source_dbsize":"1000","target_dbsize":"1000","target_input_kbps":"1024","target_ops":"0","is_migrating":true}`},
		{130 * time.Second, `{"full_migration_progress":"100","offset":"0","source_dbsize":"1000","target_dbsize":"1000","target_input_kbps":"1024","target_ops":"0","is_migrating":true}`},
	}
	for _, tt := range tests {
		f.clock.at(tt.at)
		r := f.get(t, statsPath("full1"))
		if r.status != http.StatusOK || string(r.body) != tt.want {
			t.Errorf("at %s: %d %s\nwant 200 %s", tt.at, r.status, r.body, tt.want)
		}
	}
	f.clock.at(15 * time.Second)
	if got := f.get(t, statsPath("fail1")).obj(t)["is_migrating"]; got != true {
		t.Errorf("a MIGRATING task without progress: is_migrating = %v, want true (from its status)", got)
	}
	f.clock.at(30 * time.Second)
	if got := f.get(t, statsPath("fail1")).obj(t)["is_migrating"]; got != false {
		t.Errorf("the failed task: is_migrating = %v, want false", got)
	}
	if c := f.srv.Calls(); c.Stats != int64(len(tests)+2) || c.Detail != 0 || c.Logs != 0 {
		t.Errorf("Calls() = %+v, want %d stats calls and nothing else", c, len(tests)+2)
	}
}

// logLine renders one line of a logs answer.
func logLine(l any) string {
	m := l.(map[string]any)
	return fmt.Sprintf("%v %v %v %v %v", m["created_at"], m["log_level"], m["log_code"], m["message"], m["keyword"])
}

// The logs call serves the lines written so far, newest first, filtered
// by level and paged.
func TestLogsNewestFirst(t *testing.T) {
	f := start(t, parse(t, progressScenario), sim.Options{})
	lines := func(query string) (float64, []string) {
		t.Helper()
		m := f.get(t, logsPath("fail1", query)).obj(t)
		var out []string
		for _, l := range m["migration_logs"].([]any) {
			out = append(out, logLine(l))
		}
		n, _ := m["log_num"].(float64)
		return n, out
	}
	f.clock.at(25 * time.Second)
	all := []string{
		"2024-11-26T08:00:22.000Z WARN <nil> giving up after 3 attempts <nil>",
		"2024-11-26T08:00:21.000Z ERROR <nil> target refused AUTH Planted-Log-Pw-9 <nil>",
		"2024-11-26T08:00:20.000Z ERROR MIG.0102 read sessions.rdb: unexpected EOF [sessions.rdb]",
		"2024-11-26T08:00:00.000Z INFO MIG.0001 import started <nil>",
	}
	for _, tt := range []struct {
		query string
		n     float64
		want  []string
	}{
		{"", 4, all},
		{"?log_level=ERROR", 2, all[1:3]},
		{"?log_level=error&offset=1&limit=1", 2, all[2:3]},
		{"?offset=3&limit=5", 4, all[3:]},
		{"?offset=9", 4, nil},
		{"?log_level=DEBUG", 0, nil},
	} {
		n, got := lines(tt.query)
		if n != tt.n || strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%q: log_num %v, lines\n%s\nwant %v\n%s", tt.query, n, strings.Join(got, "\n"), tt.n, strings.Join(tt.want, "\n"))
		}
	}
	// A line appears at its step's at plus its after.
	f.clock.at(20*time.Second + 500*time.Millisecond)
	if n, got := lines(""); n != 2 || len(got) != 2 || !strings.Contains(got[0], "unexpected EOF") {
		t.Errorf("at 20.5 s: log_num %v, %v; want the first ERROR line and the INFO one", n, got)
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?offset=-1", "?offset=x"} {
		wantError(t, f.get(t, logsPath("fail1", q)), http.StatusBadRequest, "DCS.4000")
	}
	if c := f.srv.Calls(); c.Logs != 11 || c.Stats != 0 || c.Detail != 0 {
		t.Errorf("Calls() = %+v, want 11 logs calls and nothing else", c)
	}
}

// Stats and logs of a task that does not exist (yet, or at all, or with a
// malformed id) answer as the detail call does.
func TestStatsAndLogsOfUnknownTasks(t *testing.T) {
	sc := parse(t, progressScenario)
	sc.Tasks[1].AppearsAt = 3 * time.Second
	sc.Tasks[1].Steps[0].At = 3 * time.Second
	f := start(t, sc, sim.Options{})
	for _, p := range []string{statsPath("fail1"), logsPath("fail1", ""), statsPath("nope"), logsPath("nope", "")} {
		wantError(t, f.get(t, p), http.StatusBadRequest, "DCS.4133")
	}
	wantError(t, f.get(t, statsPath("bad_id")), http.StatusBadRequest, "DCS.4070")
	wantError(t, f.get(t, "/v2/other/migration-task/full1/logs"), http.StatusBadRequest, "DCS.4000")
}

// With AK/SK set, stats and logs calls need a signature like every call,
// and failures count as auth failures.
func TestStatsAndLogsAuth(t *testing.T) {
	f := start(t, parse(t, progressScenario), sim.Options{AK: testAK, SK: testSK})
	f.clock.at(25 * time.Second)
	for _, p := range []string{statsPath("full1"), logsPath("fail1", "?log_level=ERROR")} {
		wantError(t, f.get(t, p), http.StatusUnauthorized, "APIGW.0301")
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.http.URL+p, nil)
		req.Header.Set("X-Project-Id", project)
		if err := dcs.Sign(req, dcs.Credentials{AK: secret.Secret(testAK), SK: secret.Secret(testSK)}, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if r := do(t, req); r.status != http.StatusOK {
			t.Errorf("signed GET %s: %d %s", p, r.status, r.body)
		}
	}
	if c := f.srv.Calls(); c.AuthFailures != 2 || c.Stats != 2 || c.Logs != 2 {
		t.Errorf("Calls() = %+v, want 2 auth failures, 2 stats and 2 logs calls", c)
	}
}
