package sim_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
)

// faultScenario is the fleet with one fault from 10 s to 12 s.
func faultScenario(t *testing.T, fault string) *sim.Scenario {
	t.Helper()
	doc := strings.Replace(fleet, "  - {at: 50s, for: 1s, kind: throttle}", "  - "+fault, 1)
	return parse(t, doc)
}

// Each fault kind answers as documented in its window, and normally before
// and after it.
func TestFaultKinds(t *testing.T) {
	tests := []struct {
		fault string
		path  string
		check func(t *testing.T, r reply)
	}{
		{"{at: 10s, for: 2s, kind: server_error}", detailPath(orders), func(t *testing.T, r reply) {
			const want = `{"error_code":"DCS.5000","error_msg":"Internal service error.","error_ext_msg":null}`
			if r.status != http.StatusInternalServerError || string(r.body) != want {
				t.Errorf("got %d %s, want 500 %s", r.status, r.body, want)
			}
		}},
		{"{at: 10s, for: 2s, kind: server_error}", listPath(""), func(t *testing.T, r reply) {
			wantError(t, r, http.StatusInternalServerError, "DCS.5000")
		}},
		{"{at: 10s, for: 2s, kind: throttle}", detailPath(orders), func(t *testing.T, r reply) {
			m := wantError(t, r, http.StatusTooManyRequests, "APIGW.0308")
			if r.header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After = %q, want 1", r.header.Get("Retry-After"))
			}
			if m["error_msg"] != "The throttling threshold has been reached: policy user over ratelimit,limit:200,time:1 second" {
				t.Errorf("error_msg = %v", m["error_msg"])
			}
			if m["request_id"] != r.header.Get("X-Request-Id") {
				t.Errorf("request_id %v differs from X-Request-Id %q", m["request_id"], r.header.Get("X-Request-Id"))
			}
		}},
		{"{at: 10s, for: 2s, kind: auth}", listPath(""), func(t *testing.T, r reply) {
			m := wantError(t, r, http.StatusUnauthorized, "APIGW.0301")
			if m["request_id"] != r.header.Get("X-Request-Id") {
				t.Errorf("request_id %v differs from X-Request-Id", m["request_id"])
			}
		}},
		{"{at: 10s, for: 2s, kind: malformed}", detailPath(orders), func(t *testing.T, r reply) {
			if r.status != http.StatusOK || json.Valid(r.body) || !strings.HasPrefix(string(r.body), `{"task_id":"`+orders) {
				t.Errorf("got %d %s, want 200 with the start of a detail object, cut short", r.status, r.body)
			}
		}},
		{"{at: 10s, for: 2s, kind: malformed}", listPath(""), func(t *testing.T, r reply) {
			if r.status != http.StatusOK || json.Valid(r.body) {
				t.Errorf("got %d %s, want 200 and invalid JSON", r.status, r.body)
			}
		}},
		{"{at: 10s, for: 2s, kind: oversized, bytes: 100000}", detailPath(orders), func(t *testing.T, r reply) {
			if r.status != http.StatusOK || len(r.body) <= 100000 || r.obj(t)["task_id"] != orders {
				t.Errorf("got %d, %d bytes, want 200 with a valid detail over 100000 bytes", r.status, len(r.body))
			}
		}},
		{"{at: 10s, for: 2s, kind: oversized, bytes: 100000}", listPath(""), func(t *testing.T, r reply) {
			if r.status != http.StatusOK || len(r.body) <= 100000 || r.obj(t)["count"] != float64(3) {
				t.Errorf("got %d, %d bytes, want 200 with a valid list over 100000 bytes", r.status, len(r.body))
			}
		}},
		{"{at: 10s, for: 2s, kind: oversized, bytes: 100000}", listPath("?offset=50"), func(t *testing.T, r reply) {
			if r.status != http.StatusOK || len(r.body) <= 100000 || r.obj(t)["count"] != float64(3) {
				t.Errorf("empty page: got %d, %d bytes, want 200 with a valid list over 100000 bytes", r.status, len(r.body))
			}
		}},
		{"{at: 10s, for: 2s, kind: numbers, task: " + sessions + "}", detailPath(sessions), func(t *testing.T, r reply) {
			m := r.obj(t)
			files, _ := field(m, "backup_files", "files").([]any)
			got := []any{field(m, "target_instance", "port"), field(m, "target_instance", "db")}
			if len(files) == 1 {
				got = append(got, files[0].(map[string]any)["size"])
			}
			want := []any{float64(6379), float64(1), float64(1048576)}
			if r.status != http.StatusOK || !equalAny(got, want) {
				t.Errorf("got %d, port/db/size %v, want 200 and JSON numbers %v", r.status, got, want)
			}
			if m["status"] != "MIGRATING" && m["status"] != "FAILED" {
				t.Errorf("status = %v: the quirk must leave the rest alone", m["status"])
			}
		}},
		{"{at: 10s, for: 2s, kind: numbers}", detailPath(orders), func(t *testing.T, r reply) {
			if got := r.obj(t)["bandwidth_limit_mb"]; got != float64(100) {
				t.Errorf("bandwidth_limit_mb = %#v, want the number 100", got)
			}
		}},
		{"{at: 10s, for: 2s, kind: nulls}", detailPath(orders), func(t *testing.T, r reply) {
			m := r.obj(t)
			for _, k := range []string{"description", "task_status", "migration_method", "backup_files"} {
				if v, ok := m[k]; !ok || v != nil {
					t.Errorf("%s = %#v (present %v), want null", k, v, ok)
				}
			}
			if v, ok := m["source_instance"].(map[string]any)["task_status"]; !ok || v != nil {
				t.Errorf("source_instance.task_status = %#v, want null", v)
			}
			if m["status"] != "INCRMIGEATING" || m["task_id"] != orders {
				t.Errorf("status, task_id = %v, %v: core fields must stay", m["status"], m["task_id"])
			}
		}},
		{"{at: 10s, for: 2s, kind: nulls, fields: [status, target_instance.port]}", detailPath(orders), func(t *testing.T, r reply) {
			m := r.obj(t)
			if v, ok := m["status"]; !ok || v != nil {
				t.Errorf("status = %#v, want null", v)
			}
			if v := field(m, "target_instance", "port"); v != nil {
				t.Errorf("target_instance.port = %#v, want null", v)
			}
		}},
		{"{at: 10s, for: 2s, kind: nulls}", listPath(""), func(t *testing.T, r reply) {
			rows, _ := r.obj(t)["migration_tasks"].([]any)
			if len(rows) != 3 {
				t.Fatalf("%d rows, want 3", len(rows))
			}
			for _, row := range rows {
				if v, ok := row.(map[string]any)["error_message"]; !ok || v != nil {
					t.Errorf("row error_message = %#v (present %v), want null", v, ok)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fault+" "+tt.path, func(t *testing.T) {
			f := start(t, faultScenario(t, tt.fault), sim.Options{})
			f.clock.at(10*time.Second - time.Millisecond)
			normal(t, f.get(t, tt.path))
			for _, at := range []time.Duration{10 * time.Second, 12*time.Second - time.Millisecond} {
				f.clock.at(at)
				tt.check(t, f.get(t, tt.path))
			}
			if got := f.srv.Calls().Faults; got != 2 {
				t.Errorf("Calls().Faults = %d, want 2", got)
			}
			f.clock.at(12 * time.Second)
			normal(t, f.get(t, tt.path))
		})
	}
}

// normal checks an answer the fault windows did not touch.
func normal(t *testing.T, r reply) {
	t.Helper()
	m := r.obj(t)
	if r.status != http.StatusOK {
		t.Fatalf("outside the fault window: %d %s", r.status, r.body)
	}
	if _, isList := m["count"]; isList {
		return
	}
	for _, in := range []string{"source_instance", "target_instance"} {
		if _, ok := field(m, in, "port").(string); field(m, in) != nil && !ok {
			t.Errorf("outside the fault window: %s.port = %#v, want a string", in, field(m, in, "port"))
		}
	}
	if _, ok := m["task_status"].(string); !ok {
		t.Errorf("outside the fault window: task_status = %#v, want a string", m["task_status"])
	}
}

func equalAny(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A fault on one task leaves the list and the other tasks alone.
func TestTaskFaultIsScoped(t *testing.T) {
	f := start(t, faultScenario(t, "{at: 10s, for: 2s, kind: server_error, task: "+orders+"}"), sim.Options{})
	f.clock.at(11 * time.Second)
	wantError(t, f.get(t, detailPath(orders)), http.StatusInternalServerError, "DCS.5000")
	normal(t, f.get(t, detailPath(tokens)))
	normal(t, f.get(t, listPath("")))
}

// A slow fault answers after its delay, and gives up when the client does.
func TestSlowFault(t *testing.T) {
	t.Run("answers after the delay", func(t *testing.T) {
		f := start(t, faultScenario(t, "{at: 10s, for: 2s, kind: slow, delay: 30ms}"), sim.Options{})
		f.clock.at(11 * time.Second)
		began := time.Now()
		r := f.get(t, detailPath(orders))
		normal(t, r)
		if waited := time.Since(began); waited < 30*time.Millisecond {
			t.Errorf("answered after %s, want at least the 30ms delay", waited)
		}
	})
	t.Run("honours the client's context", func(t *testing.T) {
		f := start(t, faultScenario(t, "{at: 10s, for: 2s, kind: slow, delay: 1h}"), sim.Options{})
		f.clock.at(11 * time.Second)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.http.URL+detailPath(orders), nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got an answer (%d) from a fault delayed by an hour", resp.StatusCode)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want the client's deadline", err)
		}
		// httptest.Server.Close (cleanup) waits for the handler: the test
		// ending promptly shows the handler let go of the request.
	})
}
