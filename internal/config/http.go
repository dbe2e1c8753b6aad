package config

import (
	"errors"
	"fmt"
	"os"
)

// HTTPConfig configures the operational HTTP server: /metrics, /healthz,
// /readyz and, when PProf is true, /debug/pprof/. Listen empty: no server.
type HTTPConfig struct {
	Listen string `yaml:"listen" json:"listen"` // host:port; "" = off
	PProf  bool   `yaml:"pprof" json:"pprof"`
}

func (c Config) validateHTTP(p *problems) {
	if c.HTTP.Listen != "" {
		checkListen(p, "http.listen", c.HTTP.Listen)
	} else if c.HTTP.PProf {
		p.add("http.pprof", "needs http.listen: pprof is served there")
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
