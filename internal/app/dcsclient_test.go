package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

const (
	appProject = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	appAK      = "AKplantedApp0001"
	appSK      = "SKplantedApp0002"
	appToken   = "IAMplantedApp0003"
)

// fakeIAM answers GET /v3/projects?name=cn-north-4 with appProject to a
// call signed with appAK/appSK or carrying appToken.
func fakeIAM(t *testing.T) *httptest.Server {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := r.Header.Get("X-Auth-Token") == appToken ||
			dcs.VerifySignature(r, appAK, appSK, time.Now(), time.Minute) == nil
		if !ok || r.URL.Path != "/v3/projects" || r.URL.Query().Get("name") != "cn-north-4" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"projects": []map[string]string{{"id": appProject, "name": "cn-north-4"}}})
	}))
	t.Cleanup(hs.Close)
	return hs
}

// TestDCSClientResolvesSourceAndProject: the client the app builds takes its
// credentials from the source dcs.credentials names, looks the project id
// up in IAM when dcs.project_id is empty, logs both without a secret, and
// its calls pass the simulator's check.
func TestDCSClientResolvesSourceAndProject(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(profile, []byte("[watcher]\nak = "+appAK+"\nsk = "+appSK+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		keys   sim.Keys
		modify func(c *config.DCSConfig)
		from   string
	}{
		{"profile", sim.Keys{AK: appAK, SK: appSK}, func(c *config.DCSConfig) {
			c.Credentials, c.Profile, c.CredentialsFile = config.CredentialsProfile, "watcher", profile
		}, `"credentials":"profile watcher (`},
		{"IAM token", sim.Keys{AuthToken: appToken}, func(c *config.DCSConfig) {
			c.Credentials, c.AuthToken = config.CredentialsConfig, appToken
		}, `"credentials":"config"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := &sim.Scenario{ProjectID: appProject, Tasks: []sim.TaskSpec{{ID: "task-1", Steps: []sim.Step{{Status: new("MIGRATING")}}}}}
			simSrv := httptest.NewServer(sim.New(sc, sim.Options{AK: tc.keys.AK, SK: tc.keys.SK, AuthToken: tc.keys.AuthToken}))
			defer simSrv.Close()

			cfg := config.Default()
			cfg.DCS.Endpoint, cfg.DCS.IAMEndpoint = simSrv.URL, fakeIAM(t).URL
			tc.modify(&cfg.DCS)
			if err := cfg.Validate(); err != nil {
				t.Fatalf("config: %v", err)
			}
			var logs testutil.SyncBuffer
			projects, clients, err := clientsFor(context.Background(), cfg, Options{Logger: zerolog.New(&logs)})
			if err != nil {
				t.Fatalf("clientsFor: %v", err)
			}
			client, project := clients[0], projects[0].ProjectID
			if project != appProject {
				t.Errorf("project = %q, want the one IAM gave", project)
			}
			if _, _, err := client.Show(context.Background(), "task-1"); err != nil {
				t.Fatalf("Show: %v", err)
			}
			out := logs.String()
			for _, want := range []string{tc.from, `"project_id":"` + appProject + `"`} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %s:\n%s", want, out)
				}
			}
			for _, s := range []string{appAK, appSK, appToken} {
				if strings.Contains(out, s) {
					t.Errorf("log shows a credential: %s", out)
				}
			}
		})
	}
}

// TestDCSClientNoCredentials: auto with nothing anywhere fails at start
// with the message that says where credentials go.
func TestDCSClientNoCredentials(t *testing.T) {
	cfg := config.Default()
	cfg.DCS.ProjectID = appProject
	cfg.DCS.Endpoint = "https://dcs.example"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	home := t.TempDir()
	getenv := func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	}
	_, _, err := clientsFor(context.Background(), cfg, Options{Logger: zerolog.Nop(), Getenv: getenv})
	if err == nil || err.Error() != dcs.ErrNoCredentials.Error() {
		t.Fatalf("err = %v, want %v", err, dcs.ErrNoCredentials)
	}
}

// TestStartUsesLookedUpProject: Start wires the project id IAM gave into
// the whole watcher: a cycle calls the simulator's project and the events
// carry it.
func TestStartUsesLookedUpProject(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sc := &sim.Scenario{ProjectID: appProject, Tasks: []sim.TaskSpec{{ID: "task-1", Steps: []sim.Step{{Status: new("MIGRATING")}}}}}
	simSrv := sim.New(sc, sim.Options{AK: appAK, SK: appSK})
	api := httptest.NewServer(simSrv)
	defer api.Close()

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.NATS.Listen = "127.0.0.1:0"
	cfg.DCS.Endpoint, cfg.DCS.IAMEndpoint = api.URL, fakeIAM(t).URL
	cfg.DCS.Credentials, cfg.DCS.AK, cfg.DCS.SK = config.CredentialsConfig, appAK, appSK
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	var (
		mu       sync.Mutex
		subjects []string
	)
	a, err := Start(ctx, cfg, Options{Logger: zerolog.Nop(), NoSlack: true, Published: func(e notify.Envelope) {
		mu.Lock()
		defer mu.Unlock()
		subjects = append(subjects, e.NATSSubject)
	}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer a.Stop()
	if a.Config.DCS.ProjectID != appProject {
		t.Errorf("App.Config project = %q", a.Config.DCS.ProjectID)
	}
	if _, err := a.Poller.Cycle(ctx); err != nil {
		t.Fatalf("cycle: %v", err)
	}
	if c := simSrv.Calls(); c.AuthFailures != 0 || c.List == 0 {
		t.Errorf("simulator calls %+v", c)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(subjects) == 0 || !strings.Contains(subjects[0], "."+appProject+".task-1.") {
		t.Errorf("event subjects %v, want the looked-up project", subjects)
	}
}
