package dcs_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// metadataServer speaks the ECS metadata service's wire format: PUT
// /meta-data/latest/api/token hands out a session token, GET
// /openstack/latest/securitykey answers the agency's temporary credentials
// to a request that carries it.
type metadataServer struct {
	mu      sync.Mutex
	keys    sim.Keys  // what securitykey answers
	expires time.Time // their expiry
	status  int       // when not 0, securitykey answers this status and body
	body    string
	token   string // the session token the service accepts
	fetches int    // securitykey requests answered
	// tokenStatus, when not 0, is the answer to every PUT of a session
	// token; 404 also makes securitykey take requests without one, as a
	// service that issues no tokens does.
	tokenStatus int
}

func (m *metadataServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case r.Method == http.MethodPut && r.URL.Path == "/meta-data/latest/api/token":
		if m.tokenStatus != 0 {
			w.WriteHeader(m.tokenStatus)
			return
		}
		if r.Header.Get("X-Metadata-Token-Ttl-Seconds") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(m.token))
	case r.Method == http.MethodGet && r.URL.Path == "/openstack/latest/securitykey":
		if m.tokenStatus != http.StatusNotFound && r.Header.Get("X-Metadata-Token") != m.token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		m.fetches++
		if m.status != 0 {
			w.WriteHeader(m.status)
			_, _ = w.Write([]byte(m.body))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"credential": map[string]string{
			"access": m.keys.AK, "secret": m.keys.SK, "securitytoken": m.keys.SecurityToken,
			"expires_at": m.expires.UTC().Format("2006-01-02T15:04:05.000000Z"),
		}})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (m *metadataServer) set(f func(m *metadataServer)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

func (m *metadataServer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fetches
}

// primedMetadata is a Metadata source of md, served over HTTP, on a clock
// at t0, that has fetched its first credentials; it returns md's URL too.
func primedMetadata(t *testing.T, md *metadataServer) (*dcs.Metadata, *testutil.Clock, string) {
	t.Helper()
	clock := testutil.NewClock(t0)
	mds := httptest.NewServer(md)
	t.Cleanup(mds.Close)
	m, err := dcs.NewMetadata(dcs.MetadataOptions{Endpoint: mds.URL, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Credentials(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m, clock, mds.URL
}

var (
	t0   = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	gen1 = sim.Keys{AK: "AKplantedGen1", SK: "SKplantedGen1", SecurityToken: "STSplantedGen1"}
	gen2 = sim.Keys{AK: "AKplantedGen2", SK: "SKplantedGen2", SecurityToken: "STSplantedGen2"}
)

// TestMetadataRefreshBeforeExpiry: the agency's credentials are fetched
// once and reused; 40 minutes before they expire the next call fetches the
// new ones, which the simulator, switched to them, accepts.
func TestMetadataRefreshBeforeExpiry(t *testing.T) {
	clock := testutil.NewClock(t0)
	md := &metadataServer{keys: gen1, expires: t0.Add(2 * time.Hour), token: "session-1"}
	mds := httptest.NewServer(md)
	defer mds.Close()

	src, name, err := dcs.ResolveCredentials(context.Background(), dcs.ResolveOptions{
		Source:   dcs.SourceMetadata,
		Metadata: dcs.MetadataOptions{Endpoint: mds.URL, Now: clock.Now},
	})
	if err != nil || name != "metadata" {
		t.Fatalf("ResolveCredentials: %q, %v", name, err)
	}
	client, srv := simClient(t, gen1, src, clock.Now)
	show := func() error {
		_, _, err := client.Show(context.Background(), "task-1")
		return err
	}
	for i := range 5 {
		clock.Set(t0.Add(time.Duration(i) * 10 * time.Minute))
		if err := show(); err != nil {
			t.Fatalf("call %d with the first credentials: %v", i, err)
		}
	}
	if n := md.count(); n != 1 {
		t.Errorf("%d metadata fetches for 5 calls an hour before the refresh, want 1", n)
	}

	// The agency's credentials rotate; the simulator takes only the new ones.
	md.set(func(m *metadataServer) { m.keys, m.expires = gen2, t0.Add(8*time.Hour) })
	srv.SetKeys(gen2)
	if err := show(); !errors.Is(err, dcs.ErrAuth) {
		t.Fatalf("old credentials after the switch: %v, want ErrAuth (the simulator must refuse them)", err)
	}
	clock.Set(t0.Add(2*time.Hour - 39*time.Minute)) // inside the 40 min before expiry
	if err := show(); err != nil {
		t.Fatalf("call due for a refresh: %v", err)
	}
	if err := show(); err != nil {
		t.Fatal(err)
	}
	if n := md.count(); n != 2 {
		t.Errorf("%d metadata fetches, want 2 (one refresh)", n)
	}
}

// TestMetadataFailingRefresh: while a refresh fails the credentials in hand
// serve until they expire, the service is asked again at most every 30 s,
// and once they have expired the call fails (retryable) without showing
// the service's answer.
func TestMetadataFailingRefresh(t *testing.T) {
	md := &metadataServer{keys: gen1, expires: t0.Add(time.Hour), token: "session-1"}
	m, clock, _ := primedMetadata(t, md)
	md.set(func(m *metadataServer) { m.status, m.body = http.StatusInternalServerError, `{"leak":"`+gen2.SK+`"}` })
	clock.Set(t0.Add(30 * time.Minute)) // due for refresh
	for range 10 {
		c, err := m.Credentials(context.Background())
		if err != nil || c.AK.Reveal() != gen1.AK {
			t.Fatalf("during a failing refresh: %v (want the credentials in hand)", err)
		}
	}
	if n := md.count(); n != 2 {
		t.Errorf("%d fetches, want 2: one refresh attempt for 10 calls within 30 s", n)
	}
	clock.Set(t0.Add(30*time.Minute + 31*time.Second))
	if _, err := m.Credentials(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := md.count(); n != 3 {
		t.Errorf("%d fetches, want 3: retried after 30 s", n)
	}

	clock.Set(t0.Add(time.Hour))
	_, err := m.Credentials(context.Background())
	if err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("expired and the service failing: %v, want HTTP 500", err)
	}
	if strings.Contains(err.Error(), gen2.SK) {
		t.Errorf("error shows the service's answer: %v", err)
	}

	client, err := dcs.New(dcs.Options{Endpoint: "http://127.0.0.1:1", ProjectID: credProject, Source: m, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Show(context.Background(), "task-1"); !errors.Is(err, dcs.ErrRetryable) {
		t.Errorf("call without credentials: %v, want ErrRetryable", err)
	}
}

// TestMetadataSessionToken: a service that renews its session token answers
// 401 to the old one; the source gets a new token and retries once. An ECS
// without an agency is named as such.
func TestMetadataSessionToken(t *testing.T) {
	md := &metadataServer{keys: gen1, expires: t0.Add(time.Minute), token: "session-1"}
	m, clock, mdsURL := primedMetadata(t, md)
	md.set(func(m *metadataServer) { m.token, m.keys, m.expires = "session-2", gen2, t0.Add(3*time.Hour) })
	clock.Set(t0.Add(2 * time.Minute)) // expired
	c, err := m.Credentials(context.Background())
	if err != nil || c.AK.Reveal() != gen2.AK {
		t.Fatalf("after the session token changed: %v", err)
	}
	if got := m.Expires(); !got.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("Expires = %s", got)
	}

	md.set(func(m *metadataServer) {
		m.status, m.body = http.StatusNotFound, "Please configure Cloud Service Agency first"
	})
	_, _, err = dcs.ResolveCredentials(context.Background(), dcs.ResolveOptions{
		Source: dcs.SourceMetadata, Metadata: dcs.MetadataOptions{Endpoint: mdsURL, Now: clock.Now},
	})
	if err == nil || !strings.Contains(err.Error(), "the ECS has no agency") {
		t.Fatalf("no agency: %v", err)
	}
}

// TestMetadataErrors: each way the metadata service can fail the first
// fetch stops ResolveCredentials with an error that says what was wrong,
// and none shows a credential or the service's answer.
func TestMetadataErrors(t *testing.T) {
	answer := func(cred map[string]string) string {
		b, err := json.Marshal(map[string]any{"credential": cred})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	full := func(expires string) map[string]string {
		return map[string]string{"access": gen1.AK, "secret": gen1.SK, "securitytoken": gen1.SecurityToken, "expires_at": expires}
	}
	noSK := full(t0.Add(time.Hour).Format(time.RFC3339))
	delete(noSK, "secret")
	cases := []struct {
		name     string
		md       *metadataServer
		endpoint string // instead of md's
		want     string
	}{
		{name: "not json", md: &metadataServer{status: http.StatusOK, body: "<html>" + gen1.SK + "</html>"},
			want: `the answer is not {"credential": {...}}`},
		{name: "no secret key", md: &metadataServer{status: http.StatusOK, body: answer(noSK)},
			want: "the answer has no secret or secretAccessKey"},
		{name: "expiry not a time", md: &metadataServer{status: http.StatusOK, body: answer(full("in an hour " + gen1.SecurityToken))},
			want: "expires_at is not an RFC 3339 time"},
		{name: "already expired", md: &metadataServer{keys: gen1, expires: t0.Add(-time.Minute)},
			want: "the service gave credentials that expired at 2025-06-01T07:59:00Z"},
		{name: "session token refused", md: &metadataServer{tokenStatus: http.StatusForbidden},
			want: "PUT /meta-data/latest/api/token: HTTP 403"},
		{name: "unreachable", endpoint: "http://127.0.0.1:1",
			want: "metadata credentials: PUT /meta-data/latest/api/token: "},
		{name: "endpoint not http", endpoint: "ftp://169.254.169.254",
			want: "scheme must be http or https"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			endpoint := tc.endpoint
			if endpoint == "" {
				mds := httptest.NewServer(tc.md)
				t.Cleanup(mds.Close)
				endpoint = mds.URL
			}
			_, _, err := dcs.ResolveCredentials(context.Background(), dcs.ResolveOptions{
				Source: dcs.SourceMetadata, Metadata: dcs.MetadataOptions{Endpoint: endpoint, Now: func() time.Time { return t0 }},
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			for _, s := range []string{gen1.AK, gen1.SK, gen1.SecurityToken} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error shows the planted %q: %v", s, err)
				}
			}
		})
	}
}

// TestMetadataWithoutSessionTokens: a metadata service that issues no
// session tokens (404 to the PUT) is asked without one.
func TestMetadataWithoutSessionTokens(t *testing.T) {
	md := &metadataServer{keys: gen1, expires: t0.Add(time.Hour), tokenStatus: http.StatusNotFound}
	m, _, _ := primedMetadata(t, md)
	c, err := m.Credentials(context.Background())
	if err != nil || c.AK.Reveal() != gen1.AK {
		t.Fatalf("without session tokens: %v", err)
	}
}

// TestMetadataWaiterKeepsItsDeadline: a call waiting behind a fetch in
// progress gives up when its ctx ends instead of waiting for the fetch.
func TestMetadataWaiterKeepsItsDeadline(t *testing.T) {
	md := &metadataServer{keys: gen1, expires: t0.Add(time.Hour), token: "session-1"}
	arrived, release := make(chan struct{}), make(chan struct{})
	mds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			close(arrived)
			<-release
		}
		md.ServeHTTP(w, r)
	}))
	defer mds.Close()
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	// No client timeout: the fetch ends only when the test releases it.
	m, err := dcs.NewMetadata(dcs.MetadataOptions{Endpoint: mds.URL, HTTPClient: &http.Client{}, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := m.Credentials(context.Background())
		first <- err
	}()
	<-arrived // the first call holds the fetch
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	second := make(chan error, 1)
	go func() {
		_, err := m.Credentials(ctx)
		second <- err
	}()
	select {
	case err := <-second:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("waiter whose ctx ended: %v, want context.Canceled", err)
		}
		select {
		case <-first:
			t.Fatal("the waiter returned only once the fetch it waited behind had ended")
		default:
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiter whose ctx ended still waits for the fetch in progress")
	}
	releaseOnce()
	if err := <-first; err != nil {
		t.Fatalf("the fetch the waiter gave up on: %v", err)
	}
}
