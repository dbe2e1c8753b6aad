package httpserver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/dcs-watcher/watcher/internal/testutil"
)

func writeUsers(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users.yml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func page() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "page "+r.URL.Path) })
}

// TestBasicAuthGuardsAllButProbes: with users, the page and /metrics ask
// for a user's password; the probes stay open; a wrong password or an
// unknown user is refused.
func TestBasicAuthGuardsAllButProbes(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users, err := LoadUsers(writeUsers(t, "basic_auth_users:\n  alice: "+string(hash)+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(Options{Registry: prometheus.NewRegistry(), Ready: func() error { return nil },
		StatusPage: page(), Users: users}))
	defer srv.Close()
	for _, tt := range []struct {
		path, user, pass string
		want             int
	}{
		{"/", "", "", 401},
		{"/tasks/p/t", "alice", "wrong", 401},
		{"/", "bob", "s3cret", 401},
		{"/metrics", "", "", 401},
		{"/", "alice", "s3cret", 200},
		{"/tasks/p/t", "alice", "s3cret", 200}, // the cached check
		{"/metrics", "alice", "s3cret", 200},
		{"/healthz", "", "", 200},
		{"/readyz", "", "", 200},
	} {
		req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s as %q/%q = %d, want %d", tt.path, tt.user, tt.pass, resp.StatusCode, tt.want)
		}
		if tt.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("GET %s: 401 without a Basic challenge", tt.path)
		}
	}
}

// TestLoadUsersRefusesBadFiles: not a bcrypt hash (named by its user,
// the value not echoed), no users, a missing file.
func TestLoadUsersRefusesBadFiles(t *testing.T) {
	for _, tt := range []struct{ name, body, want string }{
		{"plain password", "basic_auth_users:\n  alice: PLANTED-PLAIN\n", `user "alice": not a bcrypt hash`},
		{"no users", "basic_auth_users: {}\n", "no user"},
		{"not yaml", "basic_auth_users: [\n", "yaml"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadUsers(writeUsers(t, tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "PLANTED") {
				t.Errorf("err %v, want one saying %q without the value", err, tt.want)
			}
		})
	}
	if _, err := LoadUsers(filepath.Join(t.TempDir(), "none.yml")); err == nil {
		t.Error("a missing file loaded")
	}
}

// TestStartServesTLS: with a certificate the listener speaks TLS only.
func TestStartServesTLS(t *testing.T) {
	cert, key, pool := selfSigned(t)
	s, err := Start("127.0.0.1:0", page(), TLSFiles{CertFile: cert, KeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get("https://" + s.Addr() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "page /x" {
		t.Errorf("https body %q", b)
	}
	if resp, err := http.Get("http://" + s.Addr() + "/x"); err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP answered 200 on the TLS listener")
	}
	if _, err := Start("127.0.0.1:0", page(), TLSFiles{CertFile: cert, KeyFile: cert}); err == nil || !strings.Contains(err.Error(), "TLS certificate") {
		t.Errorf("a bad key pair: %v, want a TLS error", err)
	}
}

// TestCloseEndsStreams: a request that streams until its context ends
// (the page's /events) does not hold Close up.
func TestCloseEndsStreams(t *testing.T) {
	started := make(chan struct{})
	s, err := Start("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done()
	}), TLSFiles{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if resp, err := http.Get("http://" + s.Addr() + "/events"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	<-started
	if err := s.Close(); err != nil {
		t.Errorf("Close with a stream open: %v", err)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	return testutil.SelfSigned(t, "127.0.0.1")
}
