package dcs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/secret"
)

// iamServer answers GET /v3/projects?name=... as IAM does, to a request
// signed with its AK/SK or carrying its token; projects maps a name to ids.
func iamServer(t *testing.T, ak, sk, token string, now func() time.Time, projects map[string][]string) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-IAM-Trace-Id", "trace-1")
		authed := token != "" && r.Header.Get("X-Auth-Token") == token ||
			ak != "" && dcs.VerifySignature(r, ak, sk, now(), 15*time.Minute) == nil
		if !authed {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}`))
			return
		}
		if r.URL.Path != "/v3/projects" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		name := r.URL.Query().Get("name")
		var out []map[string]string
		for _, id := range projects[name] {
			out = append(out, map[string]string{"id": id, "name": name, "domain_id": "d1"})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"projects": out, "links": map[string]string{"self": "x"}})
	}))
	t.Cleanup(hs.Close)
	return hs
}

// TestLookupProjectID: the project named after the region is found with a
// signed call (the test IAM verifies the signature), or with an IAM token.
func TestLookupProjectID(t *testing.T) {
	now := func() time.Time { return t0 }
	projects := map[string][]string{"cn-north-4": {credProject}, "twice": {"p1", "p2"}}
	iam := iamServer(t, cfgAK, cfgSK, iamToken, now, projects)
	signed := dcs.Static(dcs.Credentials{AK: secret.Secret(cfgAK), SK: secret.Secret(cfgSK)})

	id, err := dcs.LookupProjectID(context.Background(), dcs.ProjectLookup{Endpoint: iam.URL, Region: "cn-north-4", Source: signed, Now: now})
	if err != nil || id != credProject {
		t.Fatalf("signed lookup: %q, %v", id, err)
	}
	id, err = dcs.LookupProjectID(context.Background(), dcs.ProjectLookup{Endpoint: iam.URL, Region: "cn-north-4", Source: dcs.Static(dcs.Credentials{AuthToken: iamToken})})
	if err != nil || id != credProject {
		t.Fatalf("token lookup: %q, %v", id, err)
	}

	cases := []struct {
		name   string
		region string
		src    dcs.CredentialSource
		want   string
	}{
		{"wrong key", "cn-north-4", dcs.Static(dcs.Credentials{AK: secret.Secret(cfgAK), SK: secret.Secret(prodSK)}), "HTTP 401 401 The request you have made requires authentication. (X-IAM-Trace-Id trace-1)"},
		{"no project", "eu-west-101", signed, `no project named "eu-west-101"`},
		{"two projects", "twice", signed, `2 projects named "twice" (p1, p2)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dcs.LookupProjectID(context.Background(), dcs.ProjectLookup{Endpoint: iam.URL, Region: tc.region, Source: tc.src, Now: now})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			noSecret(t, "error", err.Error())
		})
	}
}

// TestLookupProjectIDErrors: a lookup that cannot be made, or whose answer
// is unusable, says why; an IAM that echoes the credential in its error
// body or trace header has it replaced, and a source that cannot give
// credentials is named.
func TestLookupProjectIDErrors(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-IAM-Trace-Id", "trace-"+r.Header.Get("X-Auth-Token"))
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":401,"message":"token ` + r.Header.Get("X-Auth-Token") + ` is not valid"}}`))
	}))
	t.Cleanup(echo.Close)
	notJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html>maintenance</html>"))
	}))
	t.Cleanup(notJSON.Close)
	failingMD := httptest.NewServer(&metadataServer{status: http.StatusInternalServerError})
	t.Cleanup(failingMD.Close)
	metadata, err := dcs.NewMetadata(dcs.MetadataOptions{Endpoint: failingMD.URL})
	if err != nil {
		t.Fatal(err)
	}
	token := dcs.Static(dcs.Credentials{AuthToken: iamToken})

	cases := []struct {
		name, endpoint, region string
		src                    dcs.CredentialSource
		want                   string
	}{
		{"IAM echoes the token", echo.URL, "cn-north-4", token, "HTTP 401 401 token <secret> is not valid (X-IAM-Trace-Id trace-<secret>)"},
		{"source fails", echo.URL, "cn-north-4", metadata, "iam project lookup: metadata credentials: GET /openstack/latest/securitykey: HTTP 500"},
		{"no region", echo.URL, "", token, "no region to look up"},
		{"answer not JSON", notJSON.URL, "cn-north-4", token, "decode"},
		{"unreachable", "http://127.0.0.1:1", "cn-north-4", token, "iam project lookup at 127.0.0.1:1: "},
		{"endpoint without scheme", "iam.example", "cn-north-4", token, "scheme must be http or https"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dcs.LookupProjectID(context.Background(), dcs.ProjectLookup{Endpoint: tc.endpoint, Region: tc.region, Source: tc.src})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			noSecret(t, "error", err.Error())
		})
	}
}
