package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParse: the server, user and password come from reader.env's
// variables unless flags say otherwise, the password from a file rather
// than the command line.
func TestParse(t *testing.T) {
	env := map[string]string{"NATS_URL": "nats://127.0.0.1:4333", "NATS_USER": "reader", "NATS_PASSWORD": "from-env"}
	o, err := parse([]string{"-durable", "mine"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o.server != env["NATS_URL"] || o.user != "reader" || o.password != "from-env" || o.durable != "mine" || o.stream != "DCS_MIGRATION" {
		t.Fatalf("options %+v", o)
	}
	pw := filepath.Join(t.TempDir(), "reader.password")
	if err := os.WriteFile(pw, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if o, err = parse([]string{"-password-file", pw}, func(k string) string { return env[k] }); err != nil || o.password != "from-file" {
		t.Fatalf("password %q, err %v; want the file's", o.password, err)
	}
	if _, err := parse([]string{"-password-file", pw + ".missing"}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "-password-file") {
		t.Fatalf("a missing password file: %v", err)
	}
}

// TestRedacted: a password in the server URL never reaches an error.
func TestRedacted(t *testing.T) {
	got := redacted("nats://reader:s3cret@10.0.0.1:4222, nats://10.0.0.2:4222")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "10.0.0.1:4222") || !strings.Contains(got, "10.0.0.2:4222") {
		t.Fatalf("redacted = %q", got)
	}
}
