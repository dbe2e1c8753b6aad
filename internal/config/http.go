package config

import (
	"errors"
	"fmt"
	"os"
)

// HTTPConfig configures the operational HTTP server: /metrics, /healthz,
// /readyz, when PProf is true /debug/pprof/ and, when StatusPage is true,
// the status page. Listen empty: no server.
type HTTPConfig struct {
	Listen string `yaml:"listen" json:"listen"` // host:port; "" = off
	PProf  bool   `yaml:"pprof" json:"pprof"`
	// StatusPage serves the read-only status page (/, /tasks/..., /api/...,
	// /events): it shows task names and addresses, so it is off unless asked.
	StatusPage bool `yaml:"status_page" json:"status_page"`
	// BasicAuthUsersFile, when set, names a YAML file of users and bcrypt
	// hashes (basic_auth_users: {name: hash}, as Prometheus' web config);
	// every path but /healthz and /readyz then asks for one of them.
	BasicAuthUsersFile string `yaml:"basic_auth_users_file" json:"basic_auth_users_file"`
	// TLSCertFile and TLSKeyFile, both or neither, serve the listener over TLS.
	TLSCertFile string `yaml:"tls_cert_file" json:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file" json:"tls_key_file"`
}

func (c Config) validateHTTP(p *problems) {
	h := c.HTTP
	if h.Listen != "" {
		checkListen(p, "http.listen", h.Listen)
	} else {
		for _, k := range []struct {
			key string
			set bool
		}{
			{"http.pprof", h.PProf}, {"http.status_page", h.StatusPage},
			{"http.basic_auth_users_file", h.BasicAuthUsersFile != ""},
			{"http.tls_cert_file", h.TLSCertFile != ""}, {"http.tls_key_file", h.TLSKeyFile != ""},
		} {
			if k.set {
				p.add(k.key, "needs http.listen: it applies to that listener")
			}
		}
		return
	}
	switch {
	case h.TLSCertFile != "" && h.TLSKeyFile == "":
		p.add("http.tls_key_file", "required with http.tls_cert_file")
	case h.TLSKeyFile != "" && h.TLSCertFile == "":
		p.add("http.tls_cert_file", "required with http.tls_key_file")
	}
	for _, f := range []struct{ key, path string }{
		{"http.basic_auth_users_file", h.BasicAuthUsersFile},
		{"http.tls_cert_file", h.TLSCertFile}, {"http.tls_key_file", h.TLSKeyFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			p.add(f.key, "cannot read %s: %v", f.path, errors.Unwrap(err))
		}
	}
}

// Section names a part of the configuration a command uses.
type Section int

// The sections LoadSections can check.
const (
	SectionNATS  Section = iota // data_dir and nats.*
	SectionSlack                // slack.*
	SectionHTTP                 // http.*
)

// LoadSections is Load for a command that uses only some sections (tail:
// NATS; notify-test: Slack): the whole file is still read strictly, so an
// unknown key anywhere is an error, but only the log and the named sections
// are validated. A config meant for another host, or one whose credentials
// come from an environment this shell lacks, still works for them.
func LoadSections(path string, getenv func(string) string, sections ...Section) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg := Default()
	keys, err := decode(data, path, &cfg)
	if err != nil {
		return Config{}, err
	}
	fromEnv := applyEnv(&cfg, getenv)
	var p problems
	cfg.validateLog(&p)
	for _, s := range sections {
		switch s {
		case SectionNATS:
			if cfg.DataDir == "" && cfg.NATS.URL == "" {
				p.add("data_dir", "required: the embedded NATS server keeps its streams there")
			}
			cfg.validateNATS(&p)
		case SectionSlack:
			cfg.validateSlack(&p)
		case SectionHTTP:
			cfg.validateHTTP(&p)
		}
	}
	if err := errors.Join(p...); err != nil {
		return Config{}, locate(err, path, keys.lines, fromEnv)
	}
	return cfg, nil
}
