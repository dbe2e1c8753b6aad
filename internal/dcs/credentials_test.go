package dcs_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/sim"
)

// Planted credentials of these tests: no error or name may show them.
const (
	credProject = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	cfgAK       = "AKplantedConfig0001"
	cfgSK       = "SKplantedConfig0002"
	envAK       = "AKplantedEnv0003"
	envSK       = "SKplantedEnv0004"
	envSTS      = "STSplantedEnv0005"
	fileAK      = "AKplantedFile0006"
	fileSK      = "SKplantedFile0007"
	prodAK      = "AKplantedProd0008"
	prodSK      = "SKplantedProd0009"
	iamToken    = "IAMplantedToken0010"
)

var planted = []string{cfgAK, cfgSK, envAK, envSK, envSTS, fileAK, fileSK, prodAK, prodSK, iamToken}

func noSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range planted {
		if strings.Contains(text, s) {
			t.Errorf("%s shows the planted %q: %s", what, s, text)
		}
	}
}

// cleanEnv empties every variable the sources read, and HOME, so that the
// machine's own setup cannot leak into a test.
func cleanEnv(t *testing.T) string {
	t.Helper()
	for _, k := range []string{dcs.EnvAK, dcs.EnvSK, dcs.EnvSecurityToken, dcs.EnvCredentialsFile} {
		t.Setenv(k, "")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	return home
}

func writeProfile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

const profileFile = `
[default]
ak = ` + fileAK + `
sk = ` + fileSK + `

[prod]
ak = ` + prodAK + `
sk = ` + prodSK + `
`

func resolve(t *testing.T, o dcs.ResolveOptions) (dcs.Credentials, string) {
	t.Helper()
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	src, name, err := dcs.ResolveCredentials(context.Background(), o)
	if err != nil {
		t.Fatalf("ResolveCredentials(%s): %v", o.Source, err)
	}
	noSecret(t, "source name", name)
	c, err := src.Credentials(context.Background())
	if err != nil {
		t.Fatalf("Credentials: %v", err)
	}
	return c, name
}

func wantKeys(t *testing.T, c dcs.Credentials, ak, sk string) {
	t.Helper()
	if c.AK.Reveal() != ak || c.SK.Reveal() != sk {
		t.Errorf("got the credentials of another source (ak %d chars)", len(c.AK.Reveal()))
	}
}

// simClient is a client of a simulator that accepts keys; it signs with src.
func simClient(t *testing.T, keys sim.Keys, src dcs.CredentialSource, now func() time.Time) (*dcs.Client, *sim.Server) {
	t.Helper()
	sc := &sim.Scenario{ProjectID: credProject, Tasks: []sim.TaskSpec{{ID: "task-1", Steps: []sim.Step{{Status: new("MIGRATING")}}}}}
	srv := sim.New(sc, sim.Options{AK: keys.AK, SK: keys.SK, SecurityToken: keys.SecurityToken, AuthToken: keys.AuthToken, Clock: now})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	c, err := dcs.New(dcs.Options{Endpoint: hs.URL, ProjectID: credProject, Source: src, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

// TestEnvSource: HUAWEICLOUD_SDK_AK/SK/SECURITY_TOKEN are read, and the
// temporary credentials they make (security token included) pass the
// simulator's check.
func TestEnvSource(t *testing.T) {
	cleanEnv(t)
	t.Setenv(dcs.EnvAK, envAK)
	t.Setenv(dcs.EnvSK, envSK)
	t.Setenv(dcs.EnvSecurityToken, envSTS)
	for _, source := range []string{dcs.SourceEnv, dcs.SourceAuto} {
		c, name := resolve(t, dcs.ResolveOptions{Source: source})
		wantKeys(t, c, envAK, envSK)
		if c.SecurityToken.Reveal() != envSTS || name != "env" {
			t.Errorf("%s: source %q, security token set %v", source, name, c.SecurityToken != "")
		}
	}
	c, _ := resolve(t, dcs.ResolveOptions{Source: dcs.SourceEnv})
	client, _ := simClient(t, sim.Keys{AK: envAK, SK: envSK, SecurityToken: envSTS}, dcs.Static(c), nil)
	if _, _, err := client.Show(context.Background(), "task-1"); err != nil {
		t.Fatalf("signed with the environment's temporary credentials: %v", err)
	}
	c.SecurityToken = ""
	client, _ = simClient(t, sim.Keys{AK: envAK, SK: envSK, SecurityToken: envSTS}, dcs.Static(c), nil)
	if _, _, err := client.Show(context.Background(), "task-1"); !errors.Is(err, dcs.ErrAuth) {
		t.Fatalf("without the security token: %v, want ErrAuth", err)
	}
}

// TestProfileSource reads ~/.huaweicloud/credentials under a temporary HOME,
// a named profile, and the file HUAWEICLOUD_SDK_CREDENTIALS_FILE names
// instead.
func TestProfileSource(t *testing.T) {
	home := cleanEnv(t)
	writeProfile(t, filepath.Join(home, ".huaweicloud", "credentials"), profileFile)

	c, name := resolve(t, dcs.ResolveOptions{Source: dcs.SourceAuto})
	wantKeys(t, c, fileAK, fileSK)
	if !strings.HasPrefix(name, "profile default (") {
		t.Errorf("source = %q", name)
	}
	c, name = resolve(t, dcs.ResolveOptions{Source: dcs.SourceProfile, Profile: "prod"})
	wantKeys(t, c, prodAK, prodSK)
	if !strings.HasPrefix(name, "profile prod (") {
		t.Errorf("source = %q", name)
	}

	other := filepath.Join(t.TempDir(), "elsewhere.ini")
	writeProfile(t, other, "[default]\nak = "+prodAK+"\nsk = "+prodSK+"\n")
	t.Setenv(dcs.EnvCredentialsFile, other)
	c, name = resolve(t, dcs.ResolveOptions{Source: dcs.SourceProfile})
	wantKeys(t, c, prodAK, prodSK)
	if !strings.Contains(name, other) {
		t.Errorf("source = %q, want the file of %s", name, dcs.EnvCredentialsFile)
	}

	// A file written for the SDK names its section by credential type.
	sdk := filepath.Join(t.TempDir(), "sdk.ini")
	writeProfile(t, sdk, "[basic]\nak = "+fileAK+"\nsk = "+fileSK+"\n")
	c, name = resolve(t, dcs.ResolveOptions{Source: dcs.SourceProfile, ProfileFile: sdk})
	wantKeys(t, c, fileAK, fileSK)
	if !strings.HasPrefix(name, "profile basic (") {
		t.Errorf("source = %q", name)
	}
}

// TestProfileErrors: a missing section, a half pair and a malformed file
// each say what is wrong, and none shows the file's contents.
func TestProfileErrors(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	cases := []struct{ name, text, profile, want string }{
		{"no section", profileFile, "staging", "has no [staging] section (sections: default, prod)"},
		{"half pair", "[default]\nak = " + fileAK + "\n", "", "[default] needs both ak and sk"},
		{"not ini", "[default]\nak " + fileAK + "\nsk = " + fileSK + "\n", "", "is not in INI format"},
		{"missing", "", "", "does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if tc.text != "" {
				writeProfile(t, path, tc.text)
			}
			_, _, err := dcs.ResolveCredentials(context.Background(), dcs.ResolveOptions{Source: dcs.SourceProfile, Profile: tc.profile, ProfileFile: path, Getenv: os.Getenv})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			noSecret(t, "error", err.Error())
		})
	}
}

// TestSourceOrder: auto takes the config, then the environment, then the
// profile file, and says where else to look when none has credentials.
func TestSourceOrder(t *testing.T) {
	home := cleanEnv(t)
	writeProfile(t, filepath.Join(home, ".huaweicloud", "credentials"), profileFile)
	t.Setenv(dcs.EnvAK, envAK)
	t.Setenv(dcs.EnvSK, envSK)
	config := dcs.Credentials{AK: secret.Secret(cfgAK), SK: secret.Secret(cfgSK)}

	c, name := resolve(t, dcs.ResolveOptions{Config: config})
	wantKeys(t, c, cfgAK, cfgSK)
	if name != "config" {
		t.Errorf("config, env and profile: source %q, want config", name)
	}
	c, name = resolve(t, dcs.ResolveOptions{Config: dcs.Credentials{AuthToken: iamToken}})
	if c.AuthToken.Reveal() != iamToken || name != "config" {
		t.Errorf("an IAM token in the config: source %q", name)
	}
	c, name = resolve(t, dcs.ResolveOptions{})
	wantKeys(t, c, envAK, envSK)
	if name != "env" {
		t.Errorf("env and profile: source %q, want env", name)
	}
	t.Setenv(dcs.EnvAK, "")
	t.Setenv(dcs.EnvSK, "")
	c, _ = resolve(t, dcs.ResolveOptions{})
	wantKeys(t, c, fileAK, fileSK)

	if err := os.Remove(filepath.Join(home, ".huaweicloud", "credentials")); err != nil {
		t.Fatal(err)
	}
	_, _, err := dcs.ResolveCredentials(context.Background(), dcs.ResolveOptions{Getenv: os.Getenv})
	if !errors.Is(err, dcs.ErrNoCredentials) {
		t.Fatalf("nothing anywhere: %v, want ErrNoCredentials", err)
	}
	want := "dcs: no credentials: set dcs.ak/dcs.sk, HUAWEICLOUD_SDK_AK/SK, a profile in ~/.huaweicloud/credentials, or dcs.credentials: metadata"
	if err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}

	// A source chosen by name is the only one read.
	for _, tc := range []struct{ source, want string }{
		{dcs.SourceConfig, "dcs.credentials is config but dcs.ak/dcs.sk and dcs.auth_token are empty"},
		{dcs.SourceEnv, "dcs.credentials is env but HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK are not set"},
		{"vault", `unknown source "vault"`},
	} {
		t.Setenv("HOME", home)
		writeProfile(t, filepath.Join(home, ".huaweicloud", "credentials"), profileFile)
		_, _, err := dcs.ResolveCredentials(context.Background(), dcs.ResolveOptions{Source: tc.source, Getenv: os.Getenv})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.source, err, tc.want)
		}
	}
}

// TestTokenModeAgainstSimulator: an IAM token goes in X-Auth-Token, the
// simulator accepts the configured one and refuses any other.
func TestTokenModeAgainstSimulator(t *testing.T) {
	src := dcs.Static(dcs.Credentials{AuthToken: iamToken})
	client, srv := simClient(t, sim.Keys{AuthToken: iamToken}, src, nil)
	if _, _, err := client.Show(context.Background(), "task-1"); err != nil {
		t.Fatalf("with the IAM token: %v", err)
	}
	srv.SetKeys(sim.Keys{AuthToken: "another-token"})
	_, _, err := client.Show(context.Background(), "task-1")
	if !errors.Is(err, dcs.ErrAuth) {
		t.Fatalf("with a token the simulator does not know: %v, want ErrAuth", err)
	}
	noSecret(t, "error", err.Error())
	// Nor does a signature pass where only a token is configured.
	signed := dcs.Static(dcs.Credentials{AK: secret.Secret(cfgAK), SK: secret.Secret(cfgSK)})
	client, _ = simClient(t, sim.Keys{AuthToken: iamToken}, signed, nil)
	if _, _, err := client.Show(context.Background(), "task-1"); !errors.Is(err, dcs.ErrAuth) {
		t.Fatalf("signed call to a token-only simulator: %v, want ErrAuth", err)
	}
}

// TestHalfCredentials: a source that holds half a pair, or a security
// token without its pair, is refused at start with the source named and no
// value shown, rather than sending calls that fail one by one.
func TestHalfCredentials(t *testing.T) {
	cleanEnv(t)
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	cases := []struct {
		name string
		o    dcs.ResolveOptions
		want string
	}{
		{"env AK alone", dcs.ResolveOptions{Source: dcs.SourceEnv, Getenv: env(map[string]string{dcs.EnvAK: envAK})},
			"dcs credentials from env: credentials: AK and SK must be set together"},
		{"env security token alone", dcs.ResolveOptions{Getenv: env(map[string]string{dcs.EnvSecurityToken: envSTS})},
			"dcs credentials from env: credentials: a security token needs AK and SK"},
		{"config SK alone", dcs.ResolveOptions{Source: dcs.SourceConfig, Config: dcs.Credentials{SK: secret.Secret(cfgSK)}},
			"dcs credentials from config: credentials: AK and SK must be set together"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := dcs.ResolveCredentials(context.Background(), tc.o)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			noSecret(t, "error", err.Error())
		})
	}
}
