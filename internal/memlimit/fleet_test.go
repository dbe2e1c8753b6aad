package memlimit

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestFleetSizesAuto: auto with no container limit sets the fleet's limit
// once a list is seen, summed over the projects, and never lowers it.
func TestFleetSizesAuto(t *testing.T) {
	restore(t)
	a, err := Apply(0, env(nil), cgroupOf(0))
	if err != nil {
		t.Fatal(err)
	}
	var heard []int
	f := NewFleet(a, func(a Applied, tasks int) {
		if a.Source != FromFleet || a.Bytes != ForFleet(tasks) {
			t.Errorf("heard %+v for %d tasks", a, tasks)
		}
		heard = append(heard, tasks)
	})
	if f == nil {
		t.Fatal("auto without a cgroup limit: no Fleet")
	}
	if got := f.Applied(); got.Source != None || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("before a list: %+v", got)
	}
	f.Listed("p1", 10_000)
	f.Listed("p2", 5_000)
	f.Listed("p1", 2_000) // fewer tasks: kept
	want := ForFleet(15_000)
	if got := debug.SetMemoryLimit(-1); got != want {
		t.Errorf("limit in force %d, want %d (15,000 tasks)", got, want)
	}
	if got := f.Applied(); got.Bytes != want || got.Source != FromFleet {
		t.Errorf("Applied = %+v", got)
	}
	if len(heard) != 2 || heard[0] != 10_000 || heard[1] != 15_000 {
		t.Errorf("heard of %v, want [10000 15000]", heard)
	}
	if ForFleet(100_000) >= ForFleet(101_000) || ForFleet(0) != FleetBase {
		t.Error("ForFleet does not grow with the fleet")
	}
}

// TestFleetLeavesOthersAlone: a limit from the configuration, the
// cgroup or the environment, or off, is not the fleet's to change.
func TestFleetLeavesOthersAlone(t *testing.T) {
	for _, tc := range []struct {
		name       string
		configured int64
		cgroup     uint64
		env        map[string]string
	}{
		{"memory_limit", 300 << 20, 0, nil},
		{"cgroup", 0, 1 << 30, nil},
		{"off", -1, 0, nil},
		{"GOMEMLIMIT", 0, 0, map[string]string{EnvGOMEMLIMIT: "200MiB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restore(t)
			a, err := Apply(tc.configured, env(tc.env), cgroupOf(tc.cgroup))
			if err != nil {
				t.Fatal(err)
			}
			before := debug.SetMemoryLimit(-1)
			f := NewFleet(a, nil)
			if f != nil {
				t.Fatalf("NewFleet(%+v) = %v, want nil", a, f)
			}
			f.Listed("p", 100_000) // a nil Fleet does nothing
			if got := debug.SetMemoryLimit(-1); got != before {
				t.Errorf("limit %d, want %d kept", got, before)
			}
		})
	}
}
