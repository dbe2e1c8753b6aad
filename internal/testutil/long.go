package testutil

import (
	"os"
	"testing"
)

// LongEnv is the variable that turns on the long fault and cluster runs
// (a minute or more each on 2 cores): `go test ./...` stays a few
// minutes without it; CI (.ci/run) sets it and runs everything.
const LongEnv = "WATCHER_LONG_TESTS"

// Long skips t, a long run of about the given length, under -short and
// unless LongEnv is 1, saying how to run it.
func Long(t testing.TB, about string) {
	t.Helper()
	if testing.Short() {
		t.Skip("long run (" + about + "): skipped under -short")
	}
	if os.Getenv(LongEnv) != "1" {
		t.Skip("long run (" + about + "): set " + LongEnv + "=1 to run it (CI does: see .ci/run)")
	}
}
