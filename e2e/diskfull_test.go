package e2e

import (
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestDiskFullRecovers runs the binary on the embedded server with its
// data directory on an 8 MiB tmpfs, fills that file system while the fleet
// changes, keeps it full for 18 s, then frees the space. While full: one
// error line naming the data directory and its free space, /readyz 503
// saying so, /healthz 200 (a restart frees no space). Once freed: the
// store writes again by itself (no restart of the process), /readyz 200,
// and the stream holds every change once, in order per task, each posted
// to Slack once and in order.
//
// Every change the watcher could see is audited. Changes that began and
// ended while the disk was full are seen only by a poller that keeps its
// observations while the store cannot be written (a journal) and replays
// them after: that assertion is reported on its own.
func TestDiskFullRecovers(t *testing.T) {
	testutil.Long(t, "runs the binary for about 80 s")
	dataDir := testutil.SmallDisk(t, "size=8m")
	bin := watcherBinary(t)
	o := sim.FleetOptions{Tasks: 60, Seed: 21, ChangeRate: 4, ChangeFrom: 3 * time.Second, ChangeTo: 50 * time.Second}
	s := startSim(t, bin, o, time.Now().Add(2*time.Second))
	slack := newSlackServer(t)
	logs := &testutil.SyncBuffer{}
	cfg := watcherConfig(t, dataDir, s.url, "")
	appendFile(t, cfg, "http: {listen: \"127.0.0.1:0\"}\n")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watcher logs (last 6000 bytes):\n%s", tail(logs.String(), 6000))
		}
	})
	w := startWatcher(t, bin, cfg, watcherEnv(slack.URL), logs)
	addr := httpAddr(t, logs)
	probes := probeHealth(t, addr)

	testutil.EventuallyWithin(t, 30*time.Second, "some changes posted", func() bool { return len(slack.all()) >= 10 })
	filler := testutil.FillDisk(t, dataDir)
	full := time.Now()
	testutil.EventuallyWithin(t, 20*time.Second, "the error line of a store that cannot write", func() bool {
		return strings.Contains(logs.String(), "JetStream store cannot write")
	})
	failed := time.Now()
	// The disk stays full for 18 s: this wait is the fault's duration.
	time.Sleep(18 * time.Second)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	testutil.EventuallyWithin(t, 30*time.Second, "the store writing again", func() bool {
		return strings.Contains(logs.String(), "JetStream store writes again")
	})
	writes := time.Now()
	testutil.EventuallyWithin(t, 30*time.Second, "/readyz ready again", func() bool { return probes.readySince(freed) })
	ready := time.Now()
	t.Logf("disk filled %s into the scenario; the store failed %s later; freed after %s; writes again %s after, ready %s after",
		full.Sub(s.start).Round(time.Millisecond), failed.Sub(full).Round(time.Millisecond), freed.Sub(failed).Round(time.Millisecond),
		writes.Sub(freed).Round(time.Millisecond), ready.Sub(freed).Round(time.Millisecond))

	tr := waitQuietAndDelivered(t, s, slack, 90*time.Second)
	probes.stop()
	select {
	case <-w.done:
		t.Fatalf("the watcher exited: %v", w.err)
	default:
	}
	w.stop(t)

	out := logs.String()
	line := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "JetStream store cannot write") {
			line = l
			break
		}
	}
	t.Logf("the error line: %s", line)
	if !strings.Contains(line, `"level":"error"`) || !strings.Contains(line, `"data_dir":"`+dataDir+`"`) || !strings.Contains(line, `"free_bytes":`) {
		t.Errorf("the store's error line does not name the data directory and its free space: %s", line)
	}
	if n := strings.Count(out, "JetStream store cannot write"); n != 1 {
		t.Errorf("%d lines say the store cannot write, want 1 (one episode)", n)
	}
	if n := strings.Count(out, `"message":"embedded nats-server started"`); n != 1 {
		t.Errorf("the embedded server started %d times, want once: the process must recover without a restart", n)
	}
	if !probes.saw(http.StatusServiceUnavailable, "/readyz", "JetStream store cannot write", failed, freed) {
		t.Errorf("/readyz never said 503 with the store's reason while the disk was full")
	}
	if p, bad := probes.unhealthy(); bad {
		t.Errorf("/healthz = %d %q at %s: the watcher must stay live while the disk is merely full", p.code, p.body, p.at.Sub(s.start))
	}

	v := readDataDir(t, dataDir)
	// What must hold on the store alone: every change seen outside the
	// full-disk period, and the chains continuous across it.
	outside := auditRun(s, tr, v, slack.all(), []upInterval{{w.ready, full}, {ready, time.Now().Add(time.Hour)}}, nil, true)
	t.Logf("outside the full-disk period: %s", outside)
	for _, p := range outside.problems {
		t.Log(p)
	}
	if f := outside.failures(); len(f) > 0 {
		t.Errorf("after a full disk: %v", f)
	}
	// What must hold once the poller journals what it observes while the
	// store cannot be written: every change, the full-disk period's too.
	all := auditRun(s, tr, v, slack.all(), []upInterval{{w.ready, time.Now().Add(time.Hour)}}, nil, true)
	t.Logf("the whole run: %s", all)
	if n := all.missing - outside.missing; n > 0 {
		for _, p := range all.problems {
			if strings.Contains(p, "not on the stream") {
				t.Log(p)
			}
		}
		t.Errorf("%d change(s) observable while the disk was full are not on the stream "+
			"(they need the poller's journal of observations kept while the store cannot be written)", n)
	}
}

// appendFile appends text to the file at path.
func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// healthProbe is one answer of /readyz or /healthz.
type healthProbe struct {
	at   time.Time
	path string
	code int
	body string
}

// healthProbes asks /readyz and /healthz every 200 ms until stop.
type healthProbes struct {
	mu     sync.Mutex
	got    []healthProbe
	halt   chan struct{}
	done   chan struct{}
	halted sync.Once
}

func probeHealth(t *testing.T, addr string) *healthProbes {
	p := &healthProbes{halt: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, path := range []string{"/readyz", "/healthz"} {
				code, body := get("http://" + addr + path)
				p.mu.Lock()
				p.got = append(p.got, healthProbe{at: time.Now(), path: path, code: code, body: body})
				p.mu.Unlock()
			}
			select {
			case <-p.halt:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *healthProbes) stop() {
	p.halted.Do(func() { close(p.halt) })
	<-p.done
}

func (p *healthProbes) all() []healthProbe {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]healthProbe(nil), p.got...)
}

// readySince says /readyz answered 200 after t.
func (p *healthProbes) readySince(t time.Time) bool {
	for _, h := range p.all() {
		if h.path == "/readyz" && h.code == http.StatusOK && h.at.After(t) {
			return true
		}
	}
	return false
}

// saw says path answered code with a body holding text between from and to.
func (p *healthProbes) saw(code int, path, text string, from, to time.Time) bool {
	for _, h := range p.all() {
		if h.path == path && h.code == code && strings.Contains(h.body, text) && h.at.After(from) && h.at.Before(to) {
			return true
		}
	}
	return false
}

// unhealthy is the first /healthz answer that was not 200.
func (p *healthProbes) unhealthy() (healthProbe, bool) {
	for _, h := range p.all() {
		if h.path == "/healthz" && h.code != http.StatusOK {
			return h, true
		}
	}
	return healthProbe{}, false
}
