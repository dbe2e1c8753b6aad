package sim_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
)

// progressWithFault is progressScenario with one fault.
func progressWithFault(t *testing.T, fault string) *sim.Scenario {
	t.Helper()
	return parse(t, progressScenario+"faults:\n  - "+fault+"\n")
}

// Faults hit the stats and logs calls as they hit the others, inside their
// window only; Call narrows a fault to one kind of call.
func TestFaultsOnStatsAndLogs(t *testing.T) {
	stats, logs := statsPath("full1"), logsPath("fail1", "")
	tests := []struct {
		fault, path string
		check       func(t *testing.T, r reply)
	}{
		{"{at: 50s, for: 2s, kind: server_error}", stats, func(t *testing.T, r reply) {
			wantError(t, r, http.StatusInternalServerError, "DCS.5000")
		}},
		{"{at: 50s, for: 2s, kind: throttle}", logs, func(t *testing.T, r reply) {
			wantError(t, r, http.StatusTooManyRequests, "APIGW.0308")
		}},
		{"{at: 50s, for: 2s, kind: auth, task: full1}", stats, func(t *testing.T, r reply) {
			wantError(t, r, http.StatusUnauthorized, "APIGW.0301")
		}},
		{"{at: 50s, for: 2s, kind: server_error, call: logs}", logs, func(t *testing.T, r reply) {
			wantError(t, r, http.StatusInternalServerError, "DCS.5000")
		}},
		{"{at: 50s, for: 2s, kind: malformed, task: fail1, call: logs}", logs, func(t *testing.T, r reply) {
			if r.status != http.StatusOK || json.Valid(r.body) || !strings.HasPrefix(string(r.body), `{"log_num":4`) {
				t.Errorf("got %d %s, want 200 with the start of a logs answer, cut short", r.status, r.body)
			}
		}},
		{"{at: 50s, for: 2s, kind: oversized, bytes: 5000}", stats, func(t *testing.T, r reply) {
			if r.status != http.StatusOK || len(r.body) <= 5000 || r.obj(t)["full_migration_progress"] != "60" {
				t.Errorf("got %d, %d bytes, want 200 with valid stats over 5000 bytes", r.status, len(r.body))
			}
		}},
		{"{at: 50s, for: 2s, kind: oversized, bytes: 5000}", logs, func(t *testing.T, r reply) {
			m := r.obj(t)
			if r.status != http.StatusOK || len(r.body) <= 5000 || m["log_num"] != float64(4) {
				t.Errorf("got %d, %d bytes, want 200 with a valid logs answer over 5000 bytes", r.status, len(r.body))
			}
		}},
		{"{at: 50s, for: 2s, kind: numbers}", stats, func(t *testing.T, r reply) {
			m := r.obj(t)
			if m["full_migration_progress"] != float64(60) || m["source_dbsize"] != float64(1000) || m["target_input_kbps"] != float64(0) {
				t.Errorf("got %s, want the numbers as JSON numbers", r.body)
			}
		}},
		{"{at: 50s, for: 2s, kind: nulls}", stats, func(t *testing.T, r reply) {
			m := r.obj(t)
			for _, k := range []string{"source_dbsize", "target_dbsize", "target_input_kbps", "target_ops"} {
				if v, ok := m[k]; !ok || v != nil {
					t.Errorf("%s = %#v (present %v), want null", k, v, ok)
				}
			}
			if m["full_migration_progress"] != "60" {
				t.Errorf("full_migration_progress = %v: the default set must leave it", m["full_migration_progress"])
			}
		}},
		{"{at: 50s, for: 2s, kind: nulls, fields: [message, log_num]}", logs, func(t *testing.T, r reply) {
			m := r.obj(t)
			if v, ok := m["log_num"]; !ok || v != nil {
				t.Errorf("log_num = %#v, want null", v)
			}
			for _, l := range m["migration_logs"].([]any) {
				if v, ok := l.(map[string]any)["message"]; !ok || v != nil {
					t.Errorf("message = %#v, want null", v)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fault+" "+tt.path, func(t *testing.T) {
			f := start(t, progressWithFault(t, tt.fault), sim.Options{})
			f.clock.at(50*time.Second - time.Millisecond)
			if r := f.get(t, tt.path); r.status != http.StatusOK || !json.Valid(r.body) || len(r.body) > 5000 {
				t.Fatalf("before the window: %d %s", r.status, r.body)
			}
			for _, at := range []time.Duration{50 * time.Second, 52*time.Second - time.Millisecond} {
				f.clock.at(at)
				tt.check(t, f.get(t, tt.path))
			}
			if got := f.srv.Calls().Faults; got != 2 {
				t.Errorf("Calls().Faults = %d, want 2", got)
			}
			f.clock.at(52 * time.Second)
			if r := f.get(t, tt.path); r.status != http.StatusOK || !json.Valid(r.body) || len(r.body) > 5000 {
				t.Errorf("after the window: %d %s", r.status, r.body)
			}
		})
	}
}

// A fault that names a call or a task leaves the other calls alone; a
// task's fault without call hits its detail, stats and logs calls.
func TestFaultAddressing(t *testing.T) {
	t.Run("call: stats", func(t *testing.T) {
		f := start(t, progressWithFault(t, "{at: 30s, for: 2s, kind: server_error, call: stats}"), sim.Options{})
		f.clock.at(31 * time.Second)
		wantError(t, f.get(t, statsPath("full1")), http.StatusInternalServerError, "DCS.5000")
		for _, p := range []string{detailPath("full1"), logsPath("full1", ""), listPath("")} {
			if r := f.get(t, p); r.status != http.StatusOK {
				t.Errorf("GET %s: %d %s, want 200", p, r.status, r.body)
			}
		}
	})
	t.Run("task without call", func(t *testing.T) {
		f := start(t, progressWithFault(t, "{at: 30s, for: 2s, kind: server_error, task: full1}"), sim.Options{})
		f.clock.at(31 * time.Second)
		for _, p := range []string{detailPath("full1"), statsPath("full1"), logsPath("full1", "")} {
			wantError(t, f.get(t, p), http.StatusInternalServerError, "DCS.5000")
		}
		for _, p := range []string{statsPath("fail1"), listPath("")} {
			if r := f.get(t, p); r.status != http.StatusOK {
				t.Errorf("GET %s: %d %s, want 200", p, r.status, r.body)
			}
		}
	})
}

func TestParseProgressAndLogs(t *testing.T) {
	sc := parse(t, progressScenario)
	p := sc.Tasks[0].Steps[1].Progress
	if p == nil || *p.Percent != (sim.Curve{From: 0, To: 60}) || *p.SourceDBSize != (sim.Curve{From: 1000, To: 1000}) {
		t.Fatalf("steps[1].progress = %+v", p)
	}
	if got := *sc.Tasks[0].Steps[3].Progress.Percent; got != (sim.Curve{From: 60, To: 100, Over: 20 * time.Second}) {
		t.Errorf("steps[3].progress.percent = %+v", got)
	}
	if l := sc.Tasks[1].Steps[1].Logs[1]; l.After != time.Second || l.Level != "error" {
		t.Errorf("logs[1] = %+v", l)
	}

	const head = "project_id: p1\ntasks:\n  - id: t1\n    steps:\n      - {at: 0s, status: RUNNING}\n"
	tests := []struct{ name, doc, want string }{
		{"unknown progress key", head + "      - {at: 1s, progress: {pct: 3}}\n", "pct"},
		{"unknown curve key", head + "      - {at: 1s, progress: {percent: {from: 1, too: 3}}}\n      - {at: 2s}\n", "field too not found in a curve"},
		{"curve without to", head + "      - {at: 1s, progress: {percent: {from: 1}}}\n      - {at: 2s}\n", "a curve needs both from and to"},
		{"curve a list", head + "      - {at: 1s, progress: {percent: [1, 2]}}\n", "want a number or {from, to, over}"},
		{"percent over 100", head + "      - {at: 1s, progress: {percent: 150}}\n", "tasks[0].steps[1].progress.percent: 150 is not in 0..100"},
		{"negative lag", head + "      - {at: 1s, progress: {lag: {from: 5, to: -1}}}\n      - {at: 2s}\n", "tasks[0].steps[1].progress.lag: -1 is not in 0.."},
		{"ramp on the last step", head + "      - {at: 1s, progress: {percent: {from: 1, to: 9}}}\n", "tasks[0].steps[1].progress.percent: a ramp on the last step needs over"},
		{"bad level", head + "      - {at: 1s, logs: [{level: LOUD, message: x}]}\n", `tasks[0].steps[1].logs[0].level: "LOUD" is not INFO, WARN, ERROR or DEBUG`},
		{"empty message", head + "      - {at: 1s, logs: [{level: ERROR}]}\n", "tasks[0].steps[1].logs[0].message: must be set"},
		{"unknown log key", head + "      - {at: 1s, logs: [{msg: x}]}\n", "msg"},
		{"unknown call", head + "faults: [{at: 1s, for: 1s, kind: auth, call: show}]\n", `faults[0].call: unknown call "show"`},
		{"list call of a task", head + "faults: [{at: 1s, for: 1s, kind: auth, call: list, task: t1}]\n", "faults[0].call: a list call is about no one task"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sim.ParseScenario([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
