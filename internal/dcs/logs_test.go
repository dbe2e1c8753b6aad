package dcs

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLogsCall(t *testing.T) {
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.Path + "?" + r.URL.RawQuery
		if err := VerifySignature(r, testAK, testSK, testNow, 15*time.Minute); err != nil {
			t.Errorf("server: %v", err)
		}
		w.Write([]byte(`{"log_num":7,"migration_logs":[
			{"created_at":"2023-05-15T09:11:25.449Z","log_level":"ERROR","message":"AUTH failed: requirepass ` + examplePassword + ` rejected","log_code":"MIG.0031","keyword":["source","password=` + examplePassword + `"]},
			{"created_at":"2023/05/15 09:10:00","log_level":"info","message":"full sync started","log_code":"MIG.0001","keyword":null}]}`))
	}))
	defer srv.Close()
	var calls []string
	c, err := New(Options{Endpoint: srv.URL, ProjectID: "p1", Credentials: testCreds(), Now: func() time.Time { return testNow },
		Observe: func(call, outcome string, _ time.Duration) { calls = append(calls, call+" "+outcome) }})
	if err != nil {
		t.Fatal(err)
	}
	got, n, _, err := c.Logs(t.Context(), exampleID, LogQuery{Level: "error", Offset: 5, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "query", query, "/v2/p1/migration-task/"+exampleID+"/logs?limit=2&log_level=ERROR&offset=5")
	eq(t, "log_num", n, 7)
	eq(t, "observed", strings.Join(calls, ","), "logs ok")
	want := []LogEntry{
		{CreatedAt: "2023-05-15T09:11:25.449Z", Time: time.Date(2023, 5, 15, 9, 11, 25, 449e6, time.UTC), Level: "ERROR",
			Message: "AUTH failed: requirepass <secret> rejected", Code: "MIG.0031", Keywords: []string{"source", "password=<secret>"}},
		{CreatedAt: "2023/05/15 09:10:00", Time: time.Date(2023, 5, 15, 9, 10, 0, 0, time.UTC), Level: "INFO",
			Message: "full sync started", Code: "MIG.0001"},
	}
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		t.Errorf("entries\n got %#v\nwant %#v", got, want)
	}
	j, _ := json.Marshal(got)
	assertNoSecret(t, "entries", string(j)+fmt.Sprintf("%+v", got))
}

func TestLogsTolerantDecoding(t *testing.T) {
	tests := []struct {
		name, body string
		wantN      int
		want       string // the entries, one "level|message|code|keywords|time" each, joined by ";"
	}{
		{"log_num as string", `{"log_num":"1","migration_logs":[{"log_level":"ERROR","message":"m"}]}`, 1, "ERROR|m|||-"},
		{"no log_num", `{"migration_logs":[]}`, -1, ""},
		{"no logs at all", `{"log_num":0}`, 0, ""},
		{"null logs", `{"log_num":null,"migration_logs":null}`, -1, ""},
		{"numbers and nulls in an entry", `{"migration_logs":[{"created_at":null,"log_level":null,"message":null,"log_code":4031,"keyword":[1,"a"]}]}`,
			-1, "||4031|1,a|-"},
		{"keyword a lone string", `{"migration_logs":[{"message":"m","keyword":"timeout"}]}`, -1, "|m||timeout|-"},
		{"unreadable time kept raw", `{"migration_logs":[{"created_at":"yesterday","message":"m"}]}`, -1, "|m|||-"},
		{"zone-less time", `{"migration_logs":[{"created_at":"2023-05-15 09:11:25","message":"m"}]}`, -1, "|m|||2023-05-15T09:11:25Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fixedServer(t, 200, tt.body, nil)
			got, n, _, err := newClient(t, srv.URL, testCreds()).Logs(t.Context(), "t1", LogQuery{})
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "log_num", n, tt.wantN)
			var parts []string
			for _, e := range got {
				ts := "-"
				if !e.Time.IsZero() {
					ts = e.Time.Format(time.RFC3339)
				}
				parts = append(parts, strings.Join([]string{e.Level, e.Message, e.Code, strings.Join(e.Keywords, ","), ts}, "|"))
			}
			eq(t, "entries", strings.Join(parts, ";"), tt.want)
		})
	}
}

func TestLogsBadBodies(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"logs an object", `{"migration_logs":{"message":"DCStest123"}}`, "migration_logs: want array, got object"},
		{"entry a string", `{"migration_logs":["DCStest123"]}`, "migration_logs[0]: want object, got string"},
		{"message an object", `{"migration_logs":[{"message":{"password":"DCStest123"}}]}`, "migration_logs[0].message: want string, got object"},
		{"keyword element an object", `{"migration_logs":[{"keyword":[{"x":"DCStest123"}]}]}`, "migration_logs[0].keyword[0]: want string, got object"},
		{"log_num a word", `{"log_num":"DCStest123","migration_logs":[]}`, "log_num: want integer"},
		{"negative log_num", `{"log_num":-1,"migration_logs":[]}`, "log_num: want an integer >= 0"},
		{"not an object", `[]`, "body: want object, got array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fixedServer(t, 200, tt.body, map[string]string{"X-Request-Id": "rid-l"})
			got, _, _, err := newClient(t, srv.URL, testCreds()).Logs(t.Context(), "t1", LogQuery{})
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("err = %v, want ErrBadResponse", err)
			}
			msg := err.Error()
			for _, want := range []string{tt.want, "dcs logs task t1", "rid-l", "decode logs"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			assertNoSecret(t, "error", msg)
			if got != nil {
				t.Errorf("a failed call returned entries: %v", got)
			}
		})
	}
}

func TestLogsQueryChecked(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("a request was sent") }))
	defer srv.Close()
	c := newClient(t, srv.URL, testCreds())
	for _, q := range []LogQuery{{Offset: -1}, {Limit: -1}, {Limit: MaxLogLimit + 1}, {Level: "ERROR&x=1"}, {Level: "INFO WARN"}} {
		if _, _, _, err := c.Logs(t.Context(), "t1", q); !errors.Is(err, ErrRequest) {
			t.Errorf("%+v: err = %v, want ErrRequest", q, err)
		}
	}
	if _, _, _, err := c.Logs(t.Context(), "a/b", LogQuery{}); !errors.Is(err, ErrRequest) {
		t.Errorf("bad id: err = %v, want ErrRequest", err)
	}
}
