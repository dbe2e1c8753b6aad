package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateHTTPStatusPage: the status page, basic auth and TLS need the
// listener; TLS needs both files; a file that is not there is named with
// its key.
func TestValidateHTTPStatusPage(t *testing.T) {
	dir := t.TempDir()
	exists := filepath.Join(dir, "users.yml")
	if err := os.WriteFile(exists, []byte("basic_auth_users: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name    string
		http    HTTPConfig
		wantKey string // "" = valid
		wantMsg string
	}{
		{"page on a listener", HTTPConfig{Listen: "127.0.0.1:0", StatusPage: true}, "", ""},
		{"page, auth and TLS", HTTPConfig{Listen: "127.0.0.1:0", StatusPage: true, BasicAuthUsersFile: exists, TLSCertFile: exists, TLSKeyFile: exists}, "", ""},
		{"page without a listener", HTTPConfig{StatusPage: true}, "http.status_page", "needs http.listen"},
		{"auth without a listener", HTTPConfig{BasicAuthUsersFile: exists}, "http.basic_auth_users_file", "needs http.listen"},
		{"cert without key", HTTPConfig{Listen: ":0", TLSCertFile: exists}, "http.tls_key_file", "required with http.tls_cert_file"},
		{"key without cert", HTTPConfig{Listen: ":0", TLSKeyFile: exists}, "http.tls_cert_file", "required with http.tls_key_file"},
		{"missing cert", HTTPConfig{Listen: ":0", TLSCertFile: missing, TLSKeyFile: exists}, "http.tls_cert_file", "no such file"},
		{"missing users file", HTTPConfig{Listen: ":0", BasicAuthUsersFile: missing}, "http.basic_auth_users_file", "missing.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.HTTP = tt.http
			got := fieldErrors(c.Validate())
			if tt.wantKey == "" {
				if len(got) != 0 {
					t.Fatalf("problems %v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].Key != tt.wantKey || !strings.Contains(got[0].Msg, tt.wantMsg) {
				t.Fatalf("problems %v, want one at %s saying %q", got, tt.wantKey, tt.wantMsg)
			}
		})
	}
}
