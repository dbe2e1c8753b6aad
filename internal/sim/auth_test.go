package sim_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/sim"
)

const (
	testAK = "SIMTESTAK0000000001"
	testSK = "simTestSecretKey0000000000000002"
)

// With AK/SK configured, a request signed by the client's signer passes and
// every other one gets the gateway's 401 APIGW.0301.
func TestAuth(t *testing.T) {
	f := start(t, parse(t, fleet), sim.Options{AK: testAK, SK: testSK})
	f.clock.at(5 * time.Second)
	now := f.clock.Now()

	signed := func(ak, sk string, at time.Time) *http.Request {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.http.URL+listPath("?offset=0&limit=5&name=orders"), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Project-Id", project)
		cred := dcs.Credentials{AK: secret.Secret(ak), SK: secret.Secret(sk)}
		if err := dcs.Sign(req, cred, at); err != nil {
			t.Fatalf("dcs.Sign: %v", err)
		}
		return req
	}

	tests := []struct {
		name string
		req  func() *http.Request
		ok   bool
	}{
		{"signed", func() *http.Request { return signed(testAK, testSK, now) }, true},
		{"signed 14 minutes off", func() *http.Request { return signed(testAK, testSK, now.Add(-14*time.Minute)) }, true},
		{"wrong SK", func() *http.Request { return signed(testAK, testSK+"x", now) }, false},
		{"wrong AK", func() *http.Request { return signed("OTHERAK000000000001", testSK, now) }, false},
		{"stale X-Sdk-Date", func() *http.Request { return signed(testAK, testSK, now.Add(-16*time.Minute)) }, false},
		{"query changed after signing", func() *http.Request {
			r := signed(testAK, testSK, now)
			r.URL.RawQuery = "offset=0&limit=6&name=orders"
			return r
		}, false},
		{"missing Authorization", func() *http.Request {
			r := signed(testAK, testSK, now)
			r.Header.Del("Authorization")
			return r
		}, false},
	}
	failures := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.req())
			if tt.ok {
				if ids := listIDs(t, r); len(ids) != 1 || ids[0] != orders {
					t.Errorf("list = %v, want [%s]", ids, orders)
				}
				return
			}
			failures++
			m := wantError(t, r, http.StatusUnauthorized, "APIGW.0301")
			if m["error_msg"] != "Incorrect IAM authentication information: verify aksk signature fail" {
				t.Errorf("error_msg = %v", m["error_msg"])
			}
			if m["request_id"] == "" || m["request_id"] != r.header.Get("X-Request-Id") {
				t.Errorf("request_id = %v, X-Request-Id = %q: want the same non-empty id", m["request_id"], r.header.Get("X-Request-Id"))
			}
		})
	}
	if got := f.srv.Calls().AuthFailures; got != int64(failures) {
		t.Errorf("Calls().AuthFailures = %d, want %d", got, failures)
	}
}

// Without AK/SK configured, the simulator checks nothing.
func TestNoAuthConfigured(t *testing.T) {
	f := start(t, parse(t, fleet), sim.Options{})
	if r := f.get(t, detailPath(orders)); r.status != http.StatusOK {
		t.Errorf("unsigned request: %d %s, want 200", r.status, r.body)
	}
}
