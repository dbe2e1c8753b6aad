package slackmsgtest

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteTemplate writes src to a template file of the test's own and
// returns its path.
func WriteTemplate(t testing.TB, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "oncall.tmpl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
