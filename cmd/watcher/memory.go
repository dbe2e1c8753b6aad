package main

import (
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/memlimit"
)

// setMemoryLimit puts memory_limit in force (GOMEMLIMIT in the
// environment wins; auto: the cgroup's) and says once which limit holds.
func setMemoryLimit(cfg config.Config, env cmdEnv, log zerolog.Logger) {
	n, err := cfg.MemoryLimitBytes()
	if err == nil {
		var a memlimit.Applied
		if a, err = memlimit.Apply(n, env.getenv, memlimit.Cgroup); err == nil {
			log.Info().Str("memory_limit", a.String()).Msg("soft memory limit")
			return
		}
	}
	log.Warn().Err(err).Msg("soft memory limit not set: the collector paces itself without one")
}
