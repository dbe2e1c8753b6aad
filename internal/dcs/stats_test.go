package dcs

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// statsText renders Stats with its pointers followed, nil as "-".
func statsText(s Stats) string {
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	i := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	b := "-"
	if s.Migrating != nil {
		b = fmt.Sprint(*s.Migrating)
	}
	return fmt.Sprintf("percent=%s lag=%s src=%s dst=%s kbps=%s ops=%s migrating=%s",
		f(s.Percent), i(s.Lag), i(s.SourceDBSize), i(s.TargetDBSize), f(s.InputKbps), i(s.Ops), b)
}

func TestStatsCall(t *testing.T) {
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		if err := VerifySignature(r, testAK, testSK, testNow, 15*time.Minute); err != nil {
			t.Errorf("server: %v", err)
		}
		w.Header().Set("X-Request-Id", "req-s1")
		w.Write([]byte(`{"full_migration_progress":"63.5","offset":"0","source_dbsize":"120000",
			"target_dbsize":"76200","target_input_kbps":"512.25","target_ops":"3100","is_migrating":true}`))
	}))
	defer srv.Close()
	var calls []string
	c, err := New(Options{Endpoint: srv.URL, ProjectID: "p1", Credentials: testCreds(), Now: func() time.Time { return testNow },
		Observe: func(call, outcome string, _ time.Duration) { calls = append(calls, call+" "+outcome) }})
	if err != nil {
		t.Fatal(err)
	}
	s, info, err := c.Stats(t.Context(), exampleID)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "path", path, "/v2/p1/migration-task/"+exampleID+"/stats")
	eq(t, "request id", info.RequestID, "req-s1")
	eq(t, "stats", statsText(s), "percent=63.5 lag=0 src=120000 dst=76200 kbps=512.25 ops=3100 migrating=true")
	eq(t, "observed", strings.Join(calls, ","), "stats ok")
}

func TestStatsTolerantDecoding(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"strings", `{"full_migration_progress":"10","offset":"25","source_dbsize":"5","target_dbsize":"4","target_input_kbps":"1.5","target_ops":"7","is_migrating":"true"}`,
			"percent=10 lag=25 src=5 dst=4 kbps=1.5 ops=7 migrating=true"},
		{"numbers", `{"full_migration_progress":99.9,"offset":0,"source_dbsize":1.2e6,"target_dbsize":0,"target_input_kbps":0,"target_ops":12.6,"is_migrating":0}`,
			"percent=99.9 lag=0 src=1200000 dst=0 kbps=0 ops=13 migrating=false"},
		{"in sync is zero, not missing", `{"offset":"0"}`, "percent=- lag=0 src=- dst=- kbps=- ops=- migrating=-"},
		{"percent sign and spaces", `{"full_migration_progress":" 63% "}`, "percent=63 lag=- src=- dst=- kbps=- ops=- migrating=-"},
		{"nulls", `{"full_migration_progress":null,"offset":null,"source_dbsize":null,"target_dbsize":null,"target_input_kbps":null,"target_ops":null,"is_migrating":null}`,
			"percent=- lag=- src=- dst=- kbps=- ops=- migrating=-"},
		{"blank strings", `{"full_migration_progress":"","offset":" ","is_migrating":""}`, "percent=- lag=- src=- dst=- kbps=- ops=- migrating=-"},
		{"empty object", `{}`, "percent=- lag=- src=- dst=- kbps=- ops=- migrating=-"},
		{"unknown fields", `{"full_migration_progress":"1","new_field":{"x":[1]}}`, "percent=1 lag=- src=- dst=- kbps=- ops=- migrating=-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fixedServer(t, 200, tt.body, nil)
			s, _, err := newClient(t, srv.URL, testCreds()).Stats(t.Context(), "t1")
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "stats", statsText(s), tt.want)
		})
	}
}

func TestStatsBadBodies(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"percent an object", `{"full_migration_progress":{"v":1}}`, "full_migration_progress: want number, got object"},
		{"percent a word", `{"full_migration_progress":"DCStest123"}`, "full_migration_progress: want number, got a string that is not one"},
		{"percent above 100", `{"full_migration_progress":"100.5"}`, "full_migration_progress: want a number in 0..100"},
		{"negative lag", `{"offset":"-3"}`, "offset: want an integer >= 0, got a negative number"},
		{"lag a boolean", `{"offset":true}`, "offset: want number, got boolean"},
		{"size an array", `{"source_dbsize":[1]}`, "source_dbsize: want number, got array"},
		{"ops not a number", `{"target_ops":"many"}`, "target_ops: want integer, got a string that is not one"},
		{"kbps negative", `{"target_input_kbps":-1}`, "target_input_kbps: want a number >= 0"},
		{"is_migrating a word", `{"is_migrating":"DCStest123"}`, "is_migrating: want boolean, got string"},
		{"not an object", `["DCStest123"]`, "body: want object, got array"},
		{"malformed", `{"offset":"1"`, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fixedServer(t, 200, tt.body, map[string]string{"X-Request-Id": "rid-9"})
			s, _, err := newClient(t, srv.URL, testCreds()).Stats(t.Context(), "t1")
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("err = %v, want ErrBadResponse", err)
			}
			msg := err.Error()
			for _, want := range []string{tt.want, "dcs stats task t1", "rid-9", "decode stats"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			assertNoSecret(t, "error", msg)
			if s != (Stats{}) {
				t.Errorf("a failed call returned stats: %s", statsText(s))
			}
		})
	}
}

func TestStatsErrors(t *testing.T) {
	t.Run("oversized body", func(t *testing.T) {
		body := `{"full_migration_progress":"1","pad":"` + strings.Repeat("x", 2048) + `"}`
		srv := fixedServer(t, 200, body, nil)
		c, err := New(Options{Endpoint: srv.URL, ProjectID: "p1", Credentials: testCreds(), MaxBodyBytes: 1024, Now: func() time.Time { return testNow }})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Stats(t.Context(), "t1"); !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "body exceeds 1024 bytes") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unknown task", func(t *testing.T) {
		srv := fixedServer(t, 400, `{"error_code":"DCS.4133","error_msg":"Migration task not found."}`, nil)
		if _, _, err := newClient(t, srv.URL, testCreds()).Stats(t.Context(), "t1"); !errors.Is(err, ErrGone) {
			t.Errorf("err = %v, want ErrGone", err)
		}
	})
	t.Run("throttled", func(t *testing.T) {
		srv := fixedServer(t, 429, `{"error_code":"APIGW.0308","error_msg":"throttled"}`, map[string]string{"Retry-After": "2"})
		_, _, err := newClient(t, srv.URL, testCreds()).Stats(t.Context(), "t1")
		var ae *APIError
		if !errors.Is(err, ErrThrottled) || !errors.As(err, &ae) || ae.RetryAfter != 2*time.Second || ae.Op != "stats" {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("bad task id never sent", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("a request was sent") }))
		defer srv.Close()
		if _, _, err := newClient(t, srv.URL, testCreds()).Stats(t.Context(), "../x"); !errors.Is(err, ErrRequest) {
			t.Errorf("err = %v, want ErrRequest", err)
		}
	})
}
