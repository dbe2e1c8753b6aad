package config

import (
	"fmt"
	"strconv"
	"strings"
)

// The values of memory_limit that are not a size.
const (
	// MemoryLimitAuto: 90% of the container's (cgroup) memory limit when
	// there is one, else sized to the tasks listed (memlimit.Fleet).
	MemoryLimitAuto = "auto"
	// MemoryLimitOff: no soft memory limit, whatever the cgroup says.
	MemoryLimitOff = "off"
)

// minMemoryLimit is the smallest soft limit memory_limit takes: an idle
// watcher with its embedded NATS holds about 28 MB, and a limit near what
// the process needs only makes the collector run without end.
const minMemoryLimit = 64 << 20

// memoryUnits are the suffixes of a size, the runtime's own (GOMEMLIMIT),
// longest first.
var memoryUnits = []struct {
	suffix string
	bytes  int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// MemoryLimitBytes reads memory_limit: the soft limit in bytes, 0 for
// auto (the cgroup's), -1 for off.
func (c Config) MemoryLimitBytes() (int64, error) { return ParseMemoryLimit(c.MemoryLimit) }

// ParseMemoryLimit reads a memory_limit value: "auto" (or empty) is 0,
// "off" is -1, and a size in GOMEMLIMIT's spelling ("300MiB", "1GiB",
// a number of bytes) is that many bytes, at least 64MiB.
func ParseMemoryLimit(s string) (int64, error) {
	v := strings.TrimSpace(s)
	switch v {
	case "", MemoryLimitAuto:
		return 0, nil
	case MemoryLimitOff:
		return -1, nil
	}
	num, unit := v, int64(1)
	for _, u := range memoryUnits {
		if rest, ok := strings.CutSuffix(v, u.suffix); ok {
			num, unit = strings.TrimSpace(rest), u.bytes
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/unit {
		return 0, fmt.Errorf("%q is not a size (want e.g. 300MiB or 1GiB: a whole number with B, KiB, MiB, GiB or TiB; or auto, or off)", s)
	}
	if n*unit < minMemoryLimit {
		return 0, fmt.Errorf("%s is below the 64MiB the watcher needs (an idle watcher with its embedded NATS holds about 28 MB)", v)
	}
	return n * unit, nil
}

func (c Config) validateMemory(p *problems) {
	if _, err := ParseMemoryLimit(c.MemoryLimit); err != nil {
		p.add("memory_limit", "%s", err.Error())
	}
}
