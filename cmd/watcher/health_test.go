package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/metrics"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestHealthOverTLS: watcher health asks a real TLS listener (the one run
// serves, with basic auth on) over https and trusts the configured
// certificate, though it names a host and not the loopback address the
// check dials; a listener that presents another certificate is not
// trusted, and plain http would not be answered.
func TestHealthOverTLS(t *testing.T) {
	cert, key, _ := testutil.SelfSigned(t, "watcher.internal")
	hash, err := bcrypt.GenerateFromPassword([]byte("status-page-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(t.TempDir(), "users.yaml")
	if err := os.WriteFile(users, []byte("basic_auth_users:\n  ops: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := func(certFile, keyFile string) string {
		hc := config.HTTPConfig{Listen: "127.0.0.1:0", BasicAuthUsersFile: users, TLSCertFile: certFile, TLSKeyFile: keyFile}
		hs, err := startHTTP(hc, metrics.New(nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = hs.Close() })
		return hs.Addr()
	}
	health := func(addr string) (int, string) {
		yaml := "http:\n  listen: " + addr + "\n  basic_auth_users_file: " + users +
			"\n  tls_cert_file: " + cert + "\n  tls_key_file: " + key + "\n"
		path := testutil.WriteFile(t, "watcher.yaml", yaml)
		var out, errb bytes.Buffer
		code := runCLI([]string{"health", "-c", path}, &out, &errb, envOf(nil))
		return code, out.String() + errb.String()
	}
	if code, out := health(serve(cert, key)); code != exitOK || !strings.Contains(out, "healthy") {
		t.Errorf("health on the TLS listener: exit %d, %q; want 0 healthy", code, out)
	}
	otherCert, otherKey, _ := testutil.SelfSigned(t, "watcher.internal")
	if code, out := health(serve(otherCert, otherKey)); code != exitFailure || !strings.Contains(out, "certificate") {
		t.Errorf("health on a listener with another certificate: exit %d, %q; want 1 and a certificate error", code, out)
	}
}
