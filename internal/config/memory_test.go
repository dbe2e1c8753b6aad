package config

import (
	"strings"
	"testing"
)

func TestMemoryLimitParsed(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want int64
	}{
		{"", 0}, // the default: auto
		{"memory_limit: auto\n", 0},
		{"memory_limit: \"off\"\n", -1},
		{"memory_limit: 300MiB\n", 300 << 20},
		{"memory_limit: 1GiB\n", 1 << 30},
		{"memory_limit: 134217728\n", 128 << 20},
	} {
		c, err := Parse([]byte(tc.yaml), "t.yaml", testEnv(credsEnv()))
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		got, err := c.MemoryLimitBytes()
		if err != nil || got != tc.want {
			t.Errorf("%q: memory_limit = %d, %v; want %d", tc.yaml, got, err, tc.want)
		}
	}
}

func TestMemoryLimitBadValue(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"300MB", `memory_limit: "300MB" is not a size (want e.g. 300MiB`},
		{"lots", `memory_limit: "lots" is not a size`},
		{"-5MiB", `memory_limit: "-5MiB" is not a size`},
		{"10MiB", "memory_limit: 10MiB is below the 64MiB the watcher needs"},
	} {
		_, err := Parse([]byte("memory_limit: "+tc.value+"\n"), "t.yaml", testEnv(credsEnv()))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("memory_limit %s: error %v, want it to contain %q", tc.value, err, tc.want)
		}
	}
}
