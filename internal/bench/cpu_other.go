//go:build !unix

package bench

import (
	"errors"
	"time"
)

// CPUTime is not measured on this system.
func CPUTime() (time.Duration, error) {
	return 0, errors.New("cpu time: getrusage is not available on this system")
}
