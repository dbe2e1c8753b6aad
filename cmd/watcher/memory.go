package main

import (
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/memlimit"
)

// setMemoryLimit puts memory_limit in force (GOMEMLIMIT in the
// environment wins; auto: the cgroup's) and says once which limit holds.
// With auto and no container limit it returns the Fleet that sizes the
// limit once the tasks are listed (and logs each limit it sets); nil
// otherwise.
func setMemoryLimit(cfg config.Config, env cmdEnv, log zerolog.Logger) *memlimit.Fleet {
	n, err := cfg.MemoryLimitBytes()
	if err == nil {
		var a memlimit.Applied
		if a, err = memlimit.Apply(n, env.getenv, memlimit.Cgroup); err == nil {
			log.Info().Str("memory_limit", a.String()).Msg("soft memory limit")
			return memlimit.NewFleet(a, func(a memlimit.Applied, tasks int) {
				log.Info().Str("memory_limit", a.String()).Int("tasks", tasks).Msg("soft memory limit sized to the tasks listed")
			})
		}
	}
	log.Warn().Err(err).Msg("soft memory limit not set: the collector paces itself without one")
	return nil
}
