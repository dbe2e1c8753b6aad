package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestValidateProjectLookedUp: a config without dcs.project_id (the id
// comes from IAM at start) says so, instead of an empty "project ,".
func TestValidateProjectLookedUp(t *testing.T) {
	path := testutil.WriteFile(t, "watcher.yaml", "dcs:\n  region: ap-southeast-1\n")
	var out, errb bytes.Buffer
	env := envOf(map[string]string{"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK})
	if code := runCLI([]string{"validate", "-c", path}, &out, &errb, env); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if want := "config ok: project looked up in IAM at start (region ap-southeast-1), "; !strings.HasPrefix(out.String(), want) {
		t.Errorf("stdout %q, want it to start with %q", out.String(), want)
	}
}

// TestSimulateFleetBanner: --change-rate alone is enough (the changes go
// on for an hour), and the banner says the plan in the flags' terms, not
// the offset of the last random change to the nanosecond.
func TestSimulateFleetBanner(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--fleet", "500", "--change-rate", "2/s"}, " 500 task(s), 2 change(s)/s from 0s for 1h0m0s\n"},
		{[]string{"--fleet", "20", "--burst", "5", "--burst-at", "3s"}, " 20 task(s), a burst of 5 at 3s\n"},
		{[]string{"--scenario", "../../configs/scenarios/quirks.yaml"}, " 1 task(s), scenario lasts 20s\n"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithCancel(testutil.Context(t, 20*time.Second))
			defer cancel()
			var out, errb testutil.SyncBuffer
			env := cmdEnv{stdout: &out, stderr: &errb, getenv: envOf(nil)}
			done := make(chan error, 1)
			go func() { done <- cmdSimulate(ctx, env, append([]string{"--listen", "127.0.0.1:0"}, tc.args...)) }()
			testutil.Eventually(t, "the banner", func() bool { return strings.Contains(out.String(), "\n") })
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("simulate: %v (stderr %q)", err, errb.String())
			}
			if !strings.HasSuffix(out.String(), tc.want) {
				t.Errorf("banner %q does not end with %q", out.String(), tc.want)
			}
		})
	}
}
