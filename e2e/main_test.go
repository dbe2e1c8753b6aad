package e2e

import (
	"os"
	"testing"
)

// TestMain removes the watcher binary the tests built (watcherBinary)
// once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	removeBinary()
	os.Exit(code)
}
