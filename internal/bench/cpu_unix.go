//go:build unix

package bench

import (
	"fmt"
	"syscall"
	"time"
)

// CPUTime is the CPU time this process has used so far, user plus system,
// all threads (getrusage RUSAGE_SELF).
func CPUTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
