package bench

import (
	"math"
	"slices"
	"time"
)

// Summary is the distribution of a set of durations.
type Summary struct {
	N             int
	P50, P99, Max time.Duration
}

// Percentiles summarises ds (which it does not modify) by the
// nearest-rank method: the p-th percentile is the smallest value that at
// least p% of the values do not exceed, so it is always one of the values.
// An empty set gives the zero Summary.
func Percentiles(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return Summary{N: len(s), P50: rank(s, 50), P99: rank(s, 99), Max: s[len(s)-1]}
}

// rank is the nearest-rank percentile p of sorted s.
func rank(s []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// MaxInWindow is the largest number of times that fall in any window
// [t, t+w): with w a second, the peak rate per second. times need not be
// sorted and are not modified.
func MaxInWindow(times []time.Time, w time.Duration) int {
	s := slices.Clone(times)
	slices.SortFunc(s, func(a, b time.Time) int { return a.Compare(b) })
	best, lo := 0, 0
	for hi := range s {
		for !s[hi].Before(s[lo].Add(w)) {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}
