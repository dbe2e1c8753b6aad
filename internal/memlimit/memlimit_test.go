package memlimit

import (
	"errors"
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

// restore puts the process's soft memory limit back after a test.
func restore(t *testing.T) {
	was := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(was) })
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func cgroupOf(n uint64) CgroupLimit { return func() (uint64, error) { return n, nil } }

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name       string
		configured int64
		cgroup     uint64
		want       int64
		source     string
	}{
		{"memory_limit", 300 << 20, 1 << 30, 300 << 20, FromConfig},
		{"auto, cgroup limit", 0, 1000 << 20, 900 << 20, FromCgroup},
		{"auto, no cgroup limit", 0, 0, math.MaxInt64, None},
		{"off", -1, 1 << 30, math.MaxInt64, None},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restore(t)
			debug.SetMemoryLimit(123 << 20)
			got, err := Apply(tc.configured, env(nil), cgroupOf(tc.cgroup))
			if err != nil {
				t.Fatal(err)
			}
			if inForce := debug.SetMemoryLimit(-1); inForce != tc.want {
				t.Errorf("runtime's limit %d, want %d", inForce, tc.want)
			}
			if got.Bytes != tc.want || got.Source != tc.source {
				t.Errorf("Apply = %+v, want %d from %s", got, tc.want, tc.source)
			}
		})
	}
}

// TestEnvWins: GOMEMLIMIT, read by the runtime at the start, is left in
// force over memory_limit and the cgroup.
func TestEnvWins(t *testing.T) {
	restore(t)
	debug.SetMemoryLimit(200 << 20) // what the runtime read from GOMEMLIMIT=200MiB
	got, err := Apply(300<<20, env(map[string]string{EnvGOMEMLIMIT: "200MiB"}), cgroupOf(1<<30))
	if err != nil {
		t.Fatal(err)
	}
	if inForce := debug.SetMemoryLimit(-1); inForce != 200<<20 || got != (Applied{Bytes: 200 << 20, Source: FromEnv}) {
		t.Errorf("limit %d, Apply = %+v; want GOMEMLIMIT's 200MiB kept", inForce, got)
	}
}

func TestCgroupUnreadable(t *testing.T) {
	restore(t)
	debug.SetMemoryLimit(123 << 20)
	_, err := Apply(0, env(nil), func() (uint64, error) { return 0, errors.New("permission denied") })
	if err == nil || !strings.Contains(err.Error(), "memory limit: read the cgroup's: permission denied") {
		t.Errorf("error %v", err)
	}
	if inForce := debug.SetMemoryLimit(-1); inForce != 123<<20 {
		t.Errorf("limit changed to %d on an error", inForce)
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		a    Applied
		want string
	}{
		{Applied{Bytes: 300 << 20, Source: FromConfig}, "300MiB (memory_limit)"},
		{Applied{Bytes: 966367641, Source: FromCgroup}, "921.6MiB (cgroup)"},
		{Applied{Bytes: math.MaxInt64, Source: None}, "none"},
		{Applied{Bytes: ForFleet(10_000), Source: FromFleet}, "91MiB (fleet)"},
	} {
		if got := tc.a.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.a, got, tc.want)
		}
	}
}
