package dcs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const examplePassword = "DCStest123"

// exampleResponse is the example answer of the API document ("Querying
// Details of a Data Migration Task"), passwords included; the diff tests
// read the same file.
var exampleResponse = func() string {
	b, err := os.ReadFile("testdata/example-response.json")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

const exampleID = "a276c1ffa0a54c2597fc824b917db317"

func newClient(t *testing.T, endpoint string, cred Credentials) *Client {
	t.Helper()
	c, err := New(Options{Endpoint: endpoint, ProjectID: "p1", Credentials: cred, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// fixedServer answers every request with status and body, after checking
// the signature; a bad signature fails the test.
func fixedServer(t *testing.T, status int, body string, headers map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := VerifySignature(r, testAK, testSK, testNow, 15*time.Minute); err != nil {
			t.Errorf("server: %v", err)
		}
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestShowDocumentExample(t *testing.T) {
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		if err := VerifySignature(r, testAK, testSK, testNow, 15*time.Minute); err != nil {
			t.Errorf("server: %v", err)
		}
		w.Header().Set("X-Request-Id", "req-42")
		w.Write([]byte(exampleResponse))
	}))
	defer srv.Close()

	task, info, err := newClient(t, srv.URL, testCreds()).Show(t.Context(), exampleID)
	if err != nil {
		t.Fatal(err)
	}
	if path != "/v2/p1/migration-task/"+exampleID {
		t.Errorf("path = %q", path)
	}
	if info.RequestID != "req-42" || info.HTTPStatus != 200 || len(info.Nulls) != 0 {
		t.Errorf("info = %+v", info)
	}
	want := Task{
		ID: exampleID, Name: "migration1", Status: "TERMINATING",
		MigrationType: "incremental_migration", NetworkType: "vpc",
		CreatedAt: "2019/10/22 14:44:30", UpdatedAt: "2019/10/22 18:00:00",
		Source: Instance{Addrs: "192.168.1.2:6379", ID: "86157b69-8a62-47f9-8c55-fa6ddc8927e1", Name: "dcs-test",
			IP: "192.168.1.2", Port: "6379", TaskStatus: "RUNNING", DB: "0", PasswordSet: true},
		Target: Instance{Addrs: "192.168.1.2:6379", ID: "86157b69-8a62-47f9-8c55-fa6ddc8927ee", Name: "test-instance",
			IP: "192.168.1.2", Port: "6379", TaskStatus: "RUNNING", DB: "0", PasswordSet: true},
	}
	if fmt.Sprintf("%#v", task) != fmt.Sprintf("%#v", want) {
		t.Errorf("task\n got %#v\nwant %#v", task, want)
	}
	j, _ := json.Marshal(task)
	assertNoSecret(t, "task JSON", string(j))
	assertNoSecret(t, "task %+v", fmt.Sprintf("%+v %#v", task, task))
}

func TestShowTolerantDecoding(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, got Task)
	}{
		{"numbers as numbers", `{"task_id":"t1","bandwidth_limit_mb":100,"version":2.5,
			"source_instance":{"port":6379,"db":0,"proxy_multi_db":1},
			"backup_files":{"files":[{"file_name":"a.rdb","size":1048576},{"file_name":"b.rdb","size":1.048576e6}]}}`,
			func(t *testing.T, got Task) {
				eq(t, "bandwidth", got.BandwidthLimitMB, "100")
				eq(t, "version", got.Version, "2.5")
				eq(t, "port", got.Source.Port, "6379")
				eq(t, "db", got.Source.DB, "0")
				eq(t, "proxy_multi_db", got.Source.ProxyMultiDB, true)
				eq(t, "size", got.BackupFiles.Files[0].Size, "1048576")
				eq(t, "size with exponent", got.BackupFiles.Files[1].Size, "1048576")
			}},
		{"strings where bool", `{"task_id":"t1","source_instance":{"proxy_multi_db":"true"},"target_instance":{"proxy_multi_db":"FALSE"}}`,
			func(t *testing.T, got Task) {
				eq(t, "source proxy_multi_db", got.Source.ProxyMultiDB, true)
				eq(t, "target proxy_multi_db", got.Target.ProxyMultiDB, false)
			}},
		{"task id as number", `{"task_id":12345,"task_name":true}`,
			func(t *testing.T, got Task) {
				eq(t, "id", got.ID, "12345")
				eq(t, "name", got.Name, "true")
			}},
		{"nulls everywhere", `{"task_id":"t1","task_name":null,"status":null,"supported_features":null,
			"backup_files":null,"source_instance":null,"target_instance":{"port":null,"password":null,"proxy_multi_db":null}}`,
			func(t *testing.T, got Task) {
				want := Task{ID: "t1"}
				if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
					t.Errorf("got %#v", got)
				}
			}},
		{"only task id", `{"task_id":"t1"}`,
			func(t *testing.T, got Task) {
				if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", Task{ID: "t1"}) {
					t.Errorf("got %#v", got)
				}
			}},
		{"empty password is not set", `{"task_id":"t1","source_instance":{"password":""},"target_instance":{"password":"x"}}`,
			func(t *testing.T, got Task) {
				eq(t, "source password set", got.Source.PasswordSet, false)
				eq(t, "target password set", got.Target.PasswordSet, true)
			}},
		{"unknown fields and enum values kept or ignored", `{"task_id":"t1","status":"WARPING","migration_type":"teleport",
			"new_field":{"deep":[1,2,3]},"source_instance":{"extra":[]}}`,
			func(t *testing.T, got Task) {
				eq(t, "status", got.Status, "WARPING")
				eq(t, "migration type", got.MigrationType, "teleport")
			}},
		{"supported features", `{"task_id":"t1","supported_features":["a",2,false]}`,
			func(t *testing.T, got Task) {
				eq(t, "features", strings.Join(got.SupportedFeatures, ","), "a,2,false")
			}},
		{"incremental spelling kept raw", `{"task_id":"t1","status":"INCRMIGRATING","task_status":"EXCHANGING"}`,
			func(t *testing.T, got Task) {
				eq(t, "status", got.Status, "INCRMIGRATING")
				eq(t, "task status", got.TaskStatus, "EXCHANGING")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fixedServer(t, 200, tt.body, nil)
			id := "t1"
			if strings.Contains(tt.body, "12345") {
				id = "12345"
			}
			got, _, err := newClient(t, srv.URL, testCreds()).Show(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestShowBadBodies(t *testing.T) {
	tests := []struct {
		name, body, wantText string
	}{
		{"malformed JSON", `{"task_id":"t1","source_instance":{"password":"DCStest123"`, "not valid JSON"},
		{"syntax error after password", `{"task_id":"t1","source_instance":{"password":"DCStest123" oops}}`, "syntax error at byte"},
		{"not an object", `["DCStest123"]`, "body: want object, got array"},
		{"string body", `"DCStest123"`, "body: want object, got string"},
		{"empty body", ``, "not valid JSON"},
		{"trailing data", `{"task_id":"t1"} {"password":"DCStest123"}`, "data after the JSON value"},
		{"instance is a string", `{"task_id":"t1","source_instance":"DCStest123"}`, "source_instance: want object, got string"},
		{"password is an object", `{"task_id":"t1","target_instance":{"password":{"v":"DCStest123"}}}`, "target_instance.password: want string, got object"},
		{"port is an array", `{"task_id":"t1","source_instance":{"port":[6379]}}`, "source_instance.port: want string, got array"},
		{"bad boolean", `{"task_id":"t1","source_instance":{"proxy_multi_db":"DCStest123"}}`, "source_instance.proxy_multi_db: want boolean, got string"},
		{"features not an array", `{"task_id":"t1","supported_features":"DCStest123"}`, "supported_features: want array, got string"},
		{"feature element an object", `{"task_id":"t1","supported_features":[{}]}`, "supported_features[0]: want string, got object"},
		{"file not an object", `{"task_id":"t1","backup_files":{"files":["DCStest123"]}}`, "backup_files.files[0]: want object, got string"},
		{"file size an object", `{"task_id":"t1","backup_files":{"files":[{"size":{}}]}}`, "backup_files.files[0].size: want string, got object"},
		{"missing task id", `{"task_name":"x","source_instance":{"password":"DCStest123"}}`, "task_id missing"},
		{"null task id", `{"task_id":null}`, "task_id missing"},
		{"another task", `{"task_id":"t2"}`, "differs from the task asked for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fixedServer(t, 200, tt.body, map[string]string{"X-Request-Id": "rid-7"})
			task, _, err := newClient(t, srv.URL, testCreds()).Show(t.Context(), "t1")
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("err = %v, want ErrBadResponse", err)
			}
			if Class(err) != "bad_response" {
				t.Errorf("Class = %q", Class(err))
			}
			msg := err.Error()
			for _, want := range []string{tt.wantText, "show task t1", "rid-7", "HTTP 200"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			assertNoSecret(t, "error", msg)
			if task.ID != "" {
				t.Errorf("a failed call returned a task: %#v", task)
			}
		})
	}
}

func TestBodyCap(t *testing.T) {
	pad := strings.Repeat("x", 2000)
	body := `{"task_id":"t1","description":"` + pad + `"}`
	srv := fixedServer(t, 200, body, nil)
	for _, tt := range []struct {
		max    int64
		wantOK bool
	}{{int64(len(body)), true}, {int64(len(body) - 1), false}, {1024, false}} {
		c, err := New(Options{Endpoint: srv.URL, ProjectID: "p1", Credentials: testCreds(), MaxBodyBytes: tt.max, Now: func() time.Time { return testNow }})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Show(t.Context(), "t1")
		if tt.wantOK {
			if err != nil {
				t.Errorf("max %d: %v", tt.max, err)
			}
			continue
		}
		if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), fmt.Sprintf("body exceeds %d bytes", tt.max)) {
			t.Errorf("max %d: err = %v", tt.max, err)
		}
	}
}

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		headers    map[string]string
		class      error
		className  string
		code, msg  string
		requestID  string
		retryAfter time.Duration
	}{
		{name: "task not found", status: 400, body: `{"error_code":"DCS.4133","error_msg":"The migration task does not exist.","error_ext_msg":null}`,
			headers: map[string]string{"X-Request-Id": "r1"}, class: ErrGone, className: "gone", code: "DCS.4133", msg: "The migration task does not exist.", requestID: "r1"},
		{name: "404 from DCS", status: 404, body: `{"error_code":"DCS.4000","error_msg":"not found"}`, class: ErrGone, className: "gone", code: "DCS.4000"},
		{name: "404 from the gateway is no deletion", status: 404, body: `{"error_code":"APIGW.0101","error_msg":"The API does not exist or has not been published in the environment","request_id":"gw1"}`,
			class: ErrRequest, className: "request", code: "APIGW.0101", requestID: "gw1"},
		{name: "invalid id", status: 400, body: `{"error_code":"DCS.4070","error_msg":"Invalid task ID."}`, class: ErrRequest, className: "request", code: "DCS.4070"},
		{name: "bad signature", status: 401,
			body:  `{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: verify aksk signature fail, ak ` + testAK + `","request_id":"4f1c0c2e"}`,
			class: ErrAuth, className: "auth", code: "APIGW.0301", msg: "Incorrect IAM authentication information: verify aksk signature fail, ak <secret>", requestID: "4f1c0c2e"},
		{name: "forbidden", status: 403, body: `{"error_code":"APIGW.0302","error_msg":"The IAM user is not authorized to access the API."}`, class: ErrAuth, className: "auth", code: "APIGW.0302"},
		{name: "token expired", status: 401, body: `{"error_code":"APIGW.0307","error_msg":"The token must be updated."}`, class: ErrAuth, className: "auth", code: "APIGW.0307"},
		{name: "plain 401", status: 401, body: ``, class: ErrAuth, className: "auth"},
		{name: "throttled", status: 429, body: `{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:200,time:1 second","request_id":"t9"}`,
			headers: map[string]string{"Retry-After": "7"}, class: ErrThrottled, className: "throttled", code: "APIGW.0308", requestID: "t9", retryAfter: 7 * time.Second},
		{name: "internal error", status: 500, body: `{"error_code":"DCS.5000","error_msg":"Internal error."}`, class: ErrRetryable, className: "unavailable", code: "DCS.5000"},
		{name: "gateway html", status: 502, body: `<html><body>Bad Gateway ` + examplePassword + `</body></html>`, class: ErrRetryable, className: "unavailable"},
		{name: "unavailable with retry-after", status: 503, body: `{}`, headers: map[string]string{"Retry-After": "120"}, class: ErrRetryable, className: "unavailable", retryAfter: 2 * time.Minute},
		{name: "redirect not followed", status: 302, body: ``, headers: map[string]string{"Location": "http://elsewhere.invalid/"}, class: ErrBadResponse, className: "bad_response"},
		{name: "oversized error body", status: 500, body: `{"error_msg":"` + strings.Repeat("y", 5000) + `"}`, class: ErrRetryable, className: "unavailable"},
		{name: "long message cut", status: 400, body: `{"error_code":"DCS.4999","error_msg":"` + strings.Repeat("z", 1024) + `"}`, class: ErrRequest, className: "request", code: "DCS.4999", msg: strings.Repeat("z", 200) + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fixedServer(t, tt.status, tt.body, tt.headers)
			c, err := New(Options{Endpoint: srv.URL, ProjectID: "p1", Credentials: testCreds(), MaxBodyBytes: 4096, Now: func() time.Time { return testNow }})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = c.Show(t.Context(), "t1")
			if !errors.Is(err, tt.class) {
				t.Fatalf("err = %v, want class %v", err, tt.class)
			}
			if Class(err) != tt.className {
				t.Errorf("Class = %q, want %q", Class(err), tt.className)
			}
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("not an *APIError: %T", err)
			}
			if ae.Op != "show" || ae.TaskID != "t1" || ae.HTTPStatus != tt.status || ae.Code != tt.code ||
				ae.RequestID != tt.requestID || ae.RetryAfter != tt.retryAfter || (tt.msg != "" && ae.Message != tt.msg) {
				t.Errorf("APIError = %+v", ae)
			}
			msg := err.Error()
			for _, want := range []string{"show task t1", strconv.Itoa(tt.status), tt.code, tt.requestID} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			assertNoSecret(t, "error", msg)
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, _, err = newClient(t, "http://"+addr, testCreds()).Show(t.Context(), "t1")
	if !errors.Is(err, ErrRetryable) || Class(err) != "unavailable" {
		t.Fatalf("err = %v, want ErrRetryable", err)
	}
	assertNoSecret(t, "error", err.Error())
}

// hangingServer accepts requests and answers only when the client gives up.
func hangingServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDeadlineIsRetryable(t *testing.T) {
	srv := hangingServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, _, err := newClient(t, srv.URL, Credentials{AuthToken: testIAM}).Show(ctx, "t1")
	if !errors.Is(err, ErrRetryable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrRetryable and DeadlineExceeded", err)
	}
	assertNoSecret(t, "error", err.Error())
}

func TestCancelHasNoClass(t *testing.T) {
	srv := hangingServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	c := newClient(t, srv.URL, testCreds())
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Show(ctx, "t1")
		errc <- err
	}()
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || Class(err) != "" {
		t.Fatalf("err = %v (class %q), want context.Canceled without class", err, Class(err))
	}
}

func TestInvalidInputNeverSent(t *testing.T) {
	var calls int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, testCreds())
	for _, id := range []string{"", "a/b", "..", "a b", "t1?x=1", strings.Repeat("a", 129)} {
		_, _, err := c.Show(t.Context(), id)
		if !errors.Is(err, ErrRequest) {
			t.Errorf("Show(%q): err = %v, want ErrRequest", id, err)
		}
	}
	for _, p := range [][2]int{{-1, 10}, {0, 0}, {0, 1001}} {
		_, _, _, err := c.ListPage(t.Context(), p[0], p[1], "")
		if !errors.Is(err, ErrRequest) {
			t.Errorf("ListPage(%d, %d): err = %v, want ErrRequest", p[0], p[1], err)
		}
	}
	if calls != 0 {
		t.Errorf("%d requests sent for invalid input", calls)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no endpoint", Options{ProjectID: "p1"}, "scheme must be http or https"},
		{"no scheme", Options{Endpoint: "dcs.example.com", ProjectID: "p1"}, "scheme must be http or https"},
		{"ftp", Options{Endpoint: "ftp://dcs.example.com", ProjectID: "p1"}, "scheme must be http or https"},
		{"no host", Options{Endpoint: "https://", ProjectID: "p1"}, "has no host"},
		{"query", Options{Endpoint: "https://dcs.example.com?a=1", ProjectID: "p1"}, "must not have a query"},
		{"user info", Options{Endpoint: "https://u:" + testSK + "@dcs.example.com", ProjectID: "p1"}, "must not hold user information"},
		{"bad url", Options{Endpoint: "https://dcs.example.com/%zz", ProjectID: "p1"}, "is not a URL"},
		{"no project", Options{Endpoint: "https://dcs.example.com"}, `project id ""`},
		{"project with slash", Options{Endpoint: "https://dcs.example.com", ProjectID: "a/b"}, `project id "a/b"`},
		{"AK without SK", Options{Endpoint: "https://dcs.example.com", ProjectID: "p1", Credentials: Credentials{AK: testAK}}, "AK and SK must be set together"},
		{"negative cap", Options{Endpoint: "https://dcs.example.com", ProjectID: "p1", MaxBodyBytes: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			assertNoSecret(t, "error", err.Error())
		})
	}
	if _, err := New(Options{Endpoint: "https://dcs.example.com/prefix/", ProjectID: "0123456789abcdef0123456789abcdef"}); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

func TestEndpointPathPrefixKept(t *testing.T) {
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		if err := VerifySignature(r, testAK, testSK, testNow, time.Minute); err != nil {
			t.Errorf("server: %v", err)
		}
		w.Write([]byte(`{"task_id":"t1"}`))
	}))
	defer srv.Close()
	if _, _, err := newClient(t, srv.URL+"/dcs/", testCreds()).Show(t.Context(), "t1"); err != nil {
		t.Fatal(err)
	}
	if path != "/dcs/v2/p1/migration-task/t1" {
		t.Errorf("path = %q", path)
	}
}

func TestUnauthenticatedClientSendsNoAuth(t *testing.T) {
	var h http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h = r.Header.Clone()
		w.Write([]byte(`{"task_id":"t1"}`))
	}))
	defer srv.Close()
	if _, _, err := newClient(t, srv.URL, Credentials{}).Show(t.Context(), "t1"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Authorization", "X-Auth-Token", "X-Sdk-Date"} {
		if h.Get(k) != "" {
			t.Errorf("unauthenticated request carries %s", k)
		}
	}
}

// listServer serves total rows page by page, like the list call, and
// records the queries it got. page overrides the rows of a page when set.
type listServer struct {
	t       *testing.T
	total   int
	mu      sync.Mutex
	queries []string
	page    func(offset, limit int) []map[string]any
}

func (s *listServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := VerifySignature(r, testAK, testSK, testNow, 15*time.Minute); err != nil {
		s.t.Errorf("server: %v", err)
	}
	if r.URL.Path != "/v2/p1/migration-tasks" {
		s.t.Errorf("path %q", r.URL.Path)
	}
	s.mu.Lock()
	s.queries = append(s.queries, r.URL.RawQuery)
	s.mu.Unlock()
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	rows := []map[string]any{}
	if s.page != nil {
		rows = s.page(offset, limit)
	} else {
		for i := offset; i < min(offset+limit, s.total); i++ {
			rows = append(rows, map[string]any{
				"task_id": fmt.Sprintf("task-%04d", i), "task_name": q.Get("name") + strconv.Itoa(i),
				"status": "MIGRATING", "source_instance_status": "RUNNING", "target_instance_status": "RUNNING",
				"data_source": "10.0.0.1:6379", "target_instance_addrs": "10.0.0.2:6379",
			})
		}
	}
	w.Header().Set("X-Request-Id", "list-"+q.Get("offset"))
	json.NewEncoder(w).Encode(map[string]any{"count": s.total, "migration_tasks": rows})
}

func (s *listServer) start() *httptest.Server {
	srv := httptest.NewServer(s)
	s.t.Cleanup(srv.Close)
	return srv
}

func TestListPages(t *testing.T) {
	ls := &listServer{t: t, total: 2500}
	c := newClient(t, ls.start().URL, testCreds())
	tasks, err := c.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2500 {
		t.Fatalf("%d tasks, want 2500", len(tasks))
	}
	// The count of the first page makes room for every row at once, not in
	// an array that doubles as pages come (holding the rows twice as it grows).
	if cap(tasks) != 2500 {
		t.Errorf("2500 rows in an array of %d", cap(tasks))
	}
	if got := listRoom(10_000_000, 1000); got != maxListRoom {
		t.Errorf("room for a count of 10M: %d rows, want at most %d made ahead", got, maxListRoom)
	}
	for i, task := range tasks {
		if task.ID != fmt.Sprintf("task-%04d", i) {
			t.Fatalf("task %d is %s", i, task.ID)
		}
	}
	want := []string{"limit=1000&offset=0", "limit=1000&offset=1000", "limit=1000&offset=2000"}
	if strings.Join(ls.queries, " ") != strings.Join(want, " ") {
		t.Errorf("queries %q, want %q", ls.queries, want)
	}
	got := tasks[42]
	if got.Source.Status != "RUNNING" || got.Target.Status != "RUNNING" || got.Source.Addrs != "10.0.0.1:6379" || got.Target.Addrs != "10.0.0.2:6379" {
		t.Errorf("row mapping: %+v", got)
	}
}

func TestListPageNameAndInfo(t *testing.T) {
	ls := &listServer{t: t, total: 30}
	c := newClient(t, ls.start().URL, testCreds())
	rows, count, info, err := c.ListPage(t.Context(), 20, 5, "my task/1")
	if err != nil {
		t.Fatal(err)
	}
	if count != 30 || len(rows) != 5 || rows[0].ID != "task-0020" || rows[0].Name != "my task/120" {
		t.Errorf("count %d, rows %+v", count, rows)
	}
	if info.RequestID != "list-20" || info.HTTPStatus != 200 {
		t.Errorf("info = %+v", info)
	}
	if ls.queries[0] != "limit=5&name=my+task%2F1&offset=20" {
		t.Errorf("query %q", ls.queries[0])
	}
}

func TestListEmpty(t *testing.T) {
	ls := &listServer{t: t, total: 0}
	tasks, err := newClient(t, ls.start().URL, testCreds()).List(t.Context(), "x")
	if err != nil || len(tasks) != 0 || len(ls.queries) != 1 {
		t.Fatalf("tasks %d, err %v, %d calls", len(tasks), err, len(ls.queries))
	}
}

func TestListStopsOnMisbehavingServer(t *testing.T) {
	rows := func(from, n int) []map[string]any {
		var out []map[string]any
		for i := from; i < from+n; i++ {
			out = append(out, map[string]any{"task_id": fmt.Sprintf("t%d", i)})
		}
		return out
	}
	tests := []struct {
		name    string
		total   int
		page    func(offset, limit int) []map[string]any
		wantErr string
		maxCall int
	}{
		{"offset ignored", 5000, func(int, int) []map[string]any { return rows(0, 1000) }, "repeats earlier rows", 2},
		{"count exceeded", 1500, func(offset, limit int) []map[string]any { return rows(offset, limit) }, "count says 1500 tasks, the pages held 2000", 2},
		{"rows past count", 10, func(offset, limit int) []map[string]any { return rows(offset, 1000) }, "count says 10 tasks, the pages held 1000", 1},
		{"short pages", 2000, func(offset, _ int) []map[string]any { return rows(offset, 500) }, "", 4},
		{"pages that never reach count", 2000, func(offset, _ int) []map[string]any { return rows(offset, 1) }, "did not end after 4 pages", 4},
		// The count of distinct ids matches: only the content gives it away.
		{"one id twice, different content", 3, func(int, int) []map[string]any {
			return append(rows(0, 3), map[string]any{"task_id": "t1", "status": "FAILED", "error_message": "stale"})
		}, "task t1 listed twice with different content (page 1)", 1},
		{"one id twice, same content", 3, func(int, int) []map[string]any { return append(rows(0, 3), rows(1, 1)...) }, "", 1},
		{"empty page before count", 5000, func(offset, limit int) []map[string]any {
			if offset >= 1000 {
				return []map[string]any{}
			}
			return rows(offset, limit)
		}, "count says 5000 tasks, the pages held 1000", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := &listServer{t: t, total: tt.total, page: tt.page}
			_, err := newClient(t, ls.start().URL, testCreds()).List(t.Context(), "")
			if tt.wantErr == "" && err != nil {
				t.Fatalf("List: %v", err)
			}
			if tt.wantErr != "" && (!errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want ErrBadResponse with %q", err, tt.wantErr)
			}
			if len(ls.queries) > tt.maxCall {
				t.Errorf("%d calls, want at most %d", len(ls.queries), tt.maxCall)
			}
		})
	}
}

func TestListErrorNamesPage(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 2 {
			w.WriteHeader(429)
			w.Write([]byte(`{"error_code":"APIGW.0308","error_msg":"throttled"}`))
			return
		}
		var rows []string
		for i := range 1000 {
			rows = append(rows, fmt.Sprintf(`{"task_id":"t%d"}`, i))
		}
		fmt.Fprintf(w, `{"count":1500,"migration_tasks":[%s]}`, strings.Join(rows, ","))
	}))
	defer srv.Close()
	_, err := newClient(t, srv.URL, testCreds()).List(t.Context(), "")
	var ae *APIError
	if !errors.Is(err, ErrThrottled) || !errors.As(err, &ae) || ae.Op != "list" || !strings.Contains(err.Error(), "list page 2") {
		t.Fatalf("err = %v", err)
	}
}

// TestListAnnouncesCount: a List tells Announced the count its first page
// gives, once, while only that page has been read (memory_limit auto sizes
// the soft limit from it before the other pages' rows are decoded).
func TestListAnnouncesCount(t *testing.T) {
	ls := &listServer{t: t, total: 2500}
	var heard []int
	var pagesRead []int
	c, err := New(Options{Endpoint: ls.start().URL, ProjectID: "p1", Credentials: testCreds(), Now: func() time.Time { return testNow },
		Announced: func(n int) { heard = append(heard, n); pagesRead = append(pagesRead, len(ls.queries)) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	if len(heard) != 1 || heard[0] != 2500 || pagesRead[0] != 1 {
		t.Errorf("announced %v after %v page(s) read, want [2500] after [1]", heard, pagesRead)
	}
}
