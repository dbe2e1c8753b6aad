package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
)

// heapMetric is the memory held by live (and not yet swept) heap objects;
// right after a GC, the live heap.
const heapMetric = "/memory/classes/heap/objects:bytes"

// HeapInUse runs a garbage collection and returns the bytes of the Go heap
// still in use: what the program holds, without garbage or free spans.
func HeapInUse() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// RSS is the resident set size of this process (VmRSS in
// /proc/self/status, Linux), in bytes.
func RSS() (int64, error) { return procField("/proc/self/status", "VmRSS:") }

// PeakRSS is the most this process held resident (VmHWM, Linux), in bytes.
func PeakRSS() (int64, error) { return procField("/proc/self/status", "VmHWM:") }

// MemTotal is the machine's memory (MemTotal in /proc/meminfo), in bytes.
func MemTotal() (int64, error) { return procField("/proc/meminfo", "MemTotal:") }

// procField reads a "Name:   123 kB" line of a /proc file, in bytes.
func procField(path, name string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w", path, name, err)
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		return n, nil
	}
	return 0, fmt.Errorf("%s: no %s line", path, name)
}

// Machine describes where a benchmark ran.
type Machine struct {
	OS, Arch   string
	NumCPU     int
	GOMAXPROCS int
	MemTotal   int64 // bytes; 0 when unknown
	GoVersion  string
}

// ThisMachine describes the machine and runtime this process runs on.
func ThisMachine() Machine {
	mem, _ := MemTotal()
	return Machine{
		OS: runtime.GOOS, Arch: runtime.GOARCH,
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		MemTotal: mem, GoVersion: runtime.Version(),
	}
}

// LoadAvg is the machine's load average over the last minute
// (/proc/loadavg, Linux): above the CPU count, something else competed
// with the benchmark, and its figures are to be taken with care.
func LoadAvg() (float64, error) {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, fmt.Errorf("read /proc/loadavg: %w", err)
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, errors.New("/proc/loadavg is empty")
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/loadavg: %w", err)
	}
	return v, nil
}
