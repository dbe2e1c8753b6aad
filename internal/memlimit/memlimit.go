// Package memlimit sets the process's soft memory limit (the Go runtime's
// GOMEMLIMIT) from, in order: GOMEMLIMIT in the environment, the
// memory_limit key, and the container's cgroup memory limit.
package memlimit

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"

	cgroupmem "github.com/KimMachineGun/automemlimit/memlimit"
)

// EnvGOMEMLIMIT is the runtime's own variable: when set, the runtime has
// read it at the start and it is left as it is.
const EnvGOMEMLIMIT = "GOMEMLIMIT"

// cgroupRatio is the share of the container's limit the soft limit takes:
// the rest is for what the Go runtime does not count (thread stacks, the
// binary's pages) and the collector's headroom.
const cgroupRatio = 0.9

// Where the limit in force came from.
const (
	FromEnv    = "GOMEMLIMIT"   // the environment
	FromConfig = "memory_limit" // the configuration
	FromCgroup = "cgroup"       // 90% of the container's limit
	None       = "none"         // no limit (auto without a cgroup limit, or off)
)

// Applied is the limit in force after Apply and where it came from.
type Applied struct {
	Bytes  int64  // math.MaxInt64: none
	Source string // FromEnv, FromConfig, FromCgroup, FromFleet or None
	// auto: memory_limit auto found no container limit, so the limit is
	// the fleet's to size (NewFleet).
	auto bool
}

// CgroupLimit reads the container's memory limit in bytes; 0: none.
type CgroupLimit func() (uint64, error)

// Cgroup reads the limit of this process's cgroup (v2 memory.max, or v1
// memory.limit_in_bytes); no cgroup or no limit is 0.
func Cgroup() (uint64, error) {
	n, err := cgroupmem.FromCgroup()
	if errors.Is(err, cgroupmem.ErrNoLimit) || errors.Is(err, cgroupmem.ErrNoCgroup) || errors.Is(err, cgroupmem.ErrCgroupsNotSupported) {
		return 0, nil
	}
	return n, err
}

// Apply sets the soft memory limit. configured is memory_limit read by
// config.ParseMemoryLimit: bytes, 0 for auto (90% of the cgroup's limit,
// if any; else none until NewFleet's sizes it), -1 for off. GOMEMLIMIT in the environment wins over both.
// A cgroup that cannot be read is an error, and no limit is set.
func Apply(configured int64, getenv func(string) string, cgroup CgroupLimit) (Applied, error) {
	if getenv(EnvGOMEMLIMIT) != "" {
		return Applied{Bytes: debug.SetMemoryLimit(-1), Source: FromEnv}, nil
	}
	switch {
	case configured > 0:
		debug.SetMemoryLimit(configured)
		return Applied{Bytes: configured, Source: FromConfig}, nil
	case configured < 0:
		debug.SetMemoryLimit(math.MaxInt64)
		return Applied{Bytes: math.MaxInt64, Source: None}, nil
	}
	n, err := cgroup()
	if err != nil {
		return Applied{Bytes: debug.SetMemoryLimit(-1), Source: None}, fmt.Errorf("memory limit: read the cgroup's: %w", err)
	}
	if n == 0 || n > math.MaxInt64 {
		debug.SetMemoryLimit(math.MaxInt64)
		return Applied{Bytes: math.MaxInt64, Source: None, auto: true}, nil
	}
	limit := int64(float64(n) * cgroupRatio)
	debug.SetMemoryLimit(limit)
	return Applied{Bytes: limit, Source: FromCgroup}, nil
}

// String is the limit for a log line: "300MiB (memory_limit)", "none".
func (a Applied) String() string {
	if a.Bytes == math.MaxInt64 || a.Source == None {
		return None
	}
	return fmt.Sprintf("%s (%s)", Size(a.Bytes), a.Source)
}

// Size spells bytes in the largest binary unit that divides them, or in
// MiB with one decimal.
func Size(b int64) string {
	for _, u := range []struct {
		name string
		n    int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b >= u.n && b%u.n == 0 {
			return fmt.Sprintf("%d%s", b/u.n, u.name)
		}
	}
	if b >= 1<<20 {
		return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%dB", b)
}
