package dcs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/dcs-watcher/watcher/internal/secret"
)

// The sources of credentials, the values of dcs.credentials. SourceAuto tries
// them in the order of the Huawei Cloud SDK's default chain: the config, the
// environment, the profile file. The ECS metadata service is not part of
// auto: off ECS, probing a link-local address costs a timeout at every start
// and turns a missing key into an obscure network error, so it is chosen by
// name.
const (
	SourceAuto     = "auto"
	SourceConfig   = "config"
	SourceEnv      = "env"
	SourceProfile  = "profile"
	SourceMetadata = "metadata"
)

// The environment variables of the SDK's credential providers.
const (
	EnvAK              = "HUAWEICLOUD_SDK_AK"
	EnvSK              = "HUAWEICLOUD_SDK_SK"
	EnvSecurityToken   = "HUAWEICLOUD_SDK_SECURITY_TOKEN"
	EnvCredentialsFile = "HUAWEICLOUD_SDK_CREDENTIALS_FILE"
	defaultProfile     = "default"
	// sdkProfileSection is the section the SDK's own profile provider reads
	// (it names sections by credential type): a file written for the SDK
	// works as the default profile.
	sdkProfileSection = "basic"
)

// ErrNoCredentials: no source had credentials. The message says where they
// may be put.
var ErrNoCredentials = errors.New("dcs: no credentials: set dcs.ak/dcs.sk, HUAWEICLOUD_SDK_AK/SK, a profile in ~/.huaweicloud/credentials, or dcs.credentials: metadata")

// CredentialSource gives the credentials to sign one call with. The client
// asks before every call, so a source with temporary credentials hands out
// fresh ones before the old expire; it must be cheap when nothing changes
// and safe for concurrent use.
type CredentialSource interface {
	Credentials(ctx context.Context) (Credentials, error)
}

// Static is a CredentialSource that never changes.
type Static Credentials

// Credentials returns the fixed credentials.
func (s Static) Credentials(context.Context) (Credentials, error) { return Credentials(s), nil }

// ResolveOptions say where ResolveCredentials looks.
type ResolveOptions struct {
	Source string      // a Source* value; "" is SourceAuto
	Config Credentials // dcs.ak/dcs.sk/dcs.security_token/dcs.auth_token
	// Getenv reads the SDK's variables (HUAWEICLOUD_SDK_*, HOME); nil reads
	// nothing.
	Getenv      func(string) string
	Profile     string // section of the profile file; "" is defaultProfile
	ProfileFile string // "" is $HUAWEICLOUD_SDK_CREDENTIALS_FILE or ~/.huaweicloud/credentials
	Metadata    MetadataOptions
}

// ResolveCredentials picks the source of credentials once, at start, and
// names it for the log ("config", "env", "profile default (<path>)",
// "metadata"). The metadata source fetches its first credentials here, so
// that an ECS without an agency fails at start rather than at the first
// cycle. Errors name the source and never a value.
func ResolveCredentials(ctx context.Context, o ResolveOptions) (CredentialSource, string, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	switch o.Source {
	case "", SourceAuto:
		if !o.Config.IsZero() {
			return checked(o.Config, SourceConfig)
		}
		if env := credentialsFromEnv(getenv); !env.IsZero() {
			return checked(env, SourceEnv)
		}
		path, err := profilePath(o.ProfileFile, getenv)
		if err != nil {
			return nil, "", err
		}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, "", ErrNoCredentials
		}
		return profile(path, o.Profile)
	case SourceConfig:
		if o.Config.IsZero() {
			return nil, "", errors.New("dcs credentials: dcs.credentials is config but dcs.ak/dcs.sk and dcs.auth_token are empty")
		}
		return checked(o.Config, SourceConfig)
	case SourceEnv:
		env := credentialsFromEnv(getenv)
		if env.IsZero() {
			return nil, "", fmt.Errorf("dcs credentials: dcs.credentials is env but %s and %s are not set", EnvAK, EnvSK)
		}
		return checked(env, SourceEnv)
	case SourceProfile:
		path, err := profilePath(o.ProfileFile, getenv)
		if err != nil {
			return nil, "", err
		}
		return profile(path, o.Profile)
	case SourceMetadata:
		m, err := NewMetadata(o.Metadata)
		if err != nil {
			return nil, "", err
		}
		if _, err := m.Credentials(ctx); err != nil {
			return nil, "", err
		}
		return m, SourceMetadata, nil
	}
	return nil, "", fmt.Errorf("dcs credentials: unknown source %q (want auto, config, env, profile or metadata)", o.Source)
}

func checked(c Credentials, name string) (CredentialSource, string, error) {
	if err := c.validate(); err != nil {
		return nil, "", fmt.Errorf("dcs credentials from %s: %w", name, err)
	}
	return Static(c), name, nil
}

func profile(path, name string) (CredentialSource, string, error) {
	c, section, err := ReadProfile(path, name)
	if err != nil {
		return nil, "", err
	}
	return Static(c), fmt.Sprintf("profile %s (%s)", section, path), nil
}

// profilePath is the profile file the SDK reads: explicit, else
// $HUAWEICLOUD_SDK_CREDENTIALS_FILE, else ~/.huaweicloud/credentials.
func profilePath(explicit string, getenv func(string) string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p := strings.TrimSpace(getenv(EnvCredentialsFile)); p != "" {
		return p, nil
	}
	home := strings.TrimSpace(getenv("HOME"))
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("dcs credentials: no home directory for ~/.huaweicloud/credentials: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".huaweicloud", "credentials"), nil
}

// ReadProfile reads the credentials of one profile from an INI file in the
// SDK's format (keys ak, sk, security_token):
//
//	[default]
//	ak = ...
//	sk = ...
//
// name "" is defaultProfile; the default profile falls back to the SDK's own
// [basic] section when the file has no [default]. It returns the section it
// read. The SDK's ProfileCredentialProvider is not used because it picks the
// section by credential type ("basic", "global"), so it cannot read
// [default] or a named profile, and because its errors are the INI parser's,
// which quote the offending line, secret or not. Errors here name the file,
// the section and the key, never a value.
func ReadProfile(path, name string) (Credentials, string, error) {
	if name == "" {
		name = defaultProfile
	}
	f, err := ini.LoadSources(ini.LoadOptions{Insensitive: false}, path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Credentials{}, "", fmt.Errorf("dcs credentials: profile file %s does not exist", path)
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			return Credentials{}, "", fmt.Errorf("dcs credentials: read profile file %s: %w", path, pe.Err)
		}
		// The parser's message quotes the line it choked on.
		return Credentials{}, "", fmt.Errorf("dcs credentials: profile file %s is not in INI format ([profile] then key = value lines)", path)
	}
	section := name
	if !f.HasSection(section) && name == defaultProfile && f.HasSection(sdkProfileSection) {
		section = sdkProfileSection
	}
	if !f.HasSection(section) {
		return Credentials{}, "", fmt.Errorf("dcs credentials: profile file %s has no [%s] section (sections: %s)", path, name, strings.Join(sectionNames(f), ", "))
	}
	s := f.Section(section)
	get := func(k string) secret.Secret { return secret.Secret(strings.TrimSpace(s.Key(k).String())) }
	c := Credentials{AK: get("ak"), SK: get("sk"), SecurityToken: get("security_token")}
	if c.AK == "" || c.SK == "" {
		return Credentials{}, "", fmt.Errorf("dcs credentials: profile file %s: [%s] needs both ak and sk", path, section)
	}
	return c, section, nil
}

func sectionNames(f *ini.File) []string {
	var names []string
	for _, s := range f.Sections() {
		if s.Name() != ini.DefaultSection {
			names = append(names, s.Name())
		}
	}
	if len(names) == 0 {
		return []string{"none"}
	}
	return names
}
