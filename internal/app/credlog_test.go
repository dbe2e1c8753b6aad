package app

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestCredentialsLogSaysWhere: the start-up line names where the DCS
// credentials came from as the operator gave them: the environment (whose
// variables win over the file as it loads), the file, or none at all for
// a local simulator that checks no signature.
func TestCredentialsLogSaysWhere(t *testing.T) {
	cases := []struct {
		name, file string
		env        map[string]string
		keys       sim.Keys
		want       string
	}{
		{"environment", "", map[string]string{config.EnvAK: appAK, config.EnvSK: appSK}, sim.Keys{AK: appAK, SK: appSK}, `"credentials":"env"`},
		{"file", "  ak: " + appAK + "\n  sk: " + appSK + "\n", nil, sim.Keys{AK: appAK, SK: appSK}, `"credentials":"config"`},
		{"none", "", nil, sim.Keys{}, `"credentials":"none (a local simulator: calls are not signed)"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := &sim.Scenario{ProjectID: appProject, Tasks: []sim.TaskSpec{{ID: "task-1", Steps: []sim.Step{{Status: new("MIGRATING")}}}}}
			simSrv := httptest.NewServer(sim.New(sc, sim.Options{AK: tc.keys.AK, SK: tc.keys.SK}))
			defer simSrv.Close()
			getenv := func(k string) string { return tc.env[k] }
			yaml := "dcs:\n  endpoint: " + simSrv.URL + "\n  project_id: " + appProject + "\n" + tc.file
			cfg, err := config.Parse([]byte(yaml), "watcher.yaml", getenv)
			if err != nil {
				t.Fatal(err)
			}
			var logs testutil.SyncBuffer
			_, clients, err := clientsFor(context.Background(), cfg, Options{Logger: zerolog.New(&logs), Getenv: getenv})
			if err != nil {
				t.Fatalf("clientsFor: %v", err)
			}
			if _, _, err := clients[0].Show(context.Background(), "task-1"); err != nil {
				t.Fatalf("Show: %v", err)
			}
			if out := logs.String(); !strings.Contains(out, tc.want) {
				t.Errorf("log lacks %s:\n%s", tc.want, out)
			}
		})
	}
}
