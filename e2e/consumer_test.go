package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/broker"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestExampleConsumer runs examples/consumer, as the watcher's read-only
// user, against the real binary and the simulator: it prints exactly the
// scenario's failures (not the success, not the task first seen already
// failed, not the other events of the stream), and after a restart of the
// consumer it gets none of them again (its durable consumer kept the
// acks) but the failure that came meanwhile.
func TestExampleConsumer(t *testing.T) {
	testutil.Long(t, "runs the binary, the simulator and the example consumer for about 20 s")
	const (
		t1, t2, t3, t4, t5 = "0e00000000000000000000000000c001", "0e00000000000000000000000000c002",
			"0e00000000000000000000000000c003", "0e00000000000000000000000000c004", "0e00000000000000000000000000c005"
		lateAt = 16 * time.Second
	)
	bin, consumer := watcherBinary(t), consumerBinary(t)
	start := time.Now().Add(2 * time.Second)
	scenario := testutil.WriteFile(t, "failures.yaml", fmt.Sprintf(`project_id: %s
tasks:
  - {id: %s, name: fails-early, steps: [{at: 0s, status: FULLMIGRATING}, {at: 4s, status: FAILED, error_message: "source unreachable"}]}
  - {id: %s, name: fails-spelled-otherwise, steps: [{at: 0s, status: INCRMIGRATING}, {at: 5s, status: MIGRATION_FAILED}]}
  - {id: %s, name: succeeds, steps: [{at: 0s, status: FULLMIGRATING}, {at: 4s, status: SUCCESS}]}
  - {id: %s, name: fails-late, steps: [{at: 0s, status: RUNNING}, {at: 3s, status: FULLMIGRATING}, {at: %s, status: FAILED}]}
  - {id: %s, name: failed-before, steps: [{at: 0s, status: FAILED}]}
`, sim.FleetProjectID, t1, t2, t3, t4, lateAt, t5))
	api := startSimChild(t, bin, "--scenario", scenario, "--start", start.UTC().Format(time.RFC3339Nano))
	dataDir, logs := t.TempDir(), &testutil.SyncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watcher logs (last 4000 bytes):\n%s", tail(logs.String(), 4000))
		}
	})
	startWatcher(t, bin, watcherConfig(t, dataDir, api, ""), watcherEnv(newSlackServer(t).URL), logs)
	reader := readerEnv(t, dataDir)

	first := startConsumer(t, consumer, reader)
	testutil.EventuallyWithin(t, 30*time.Second, "the early failures printed", func() bool { return len(first.lines()) >= 2 })
	js := readerJS(t, reader)
	testutil.EventuallyWithin(t, 10*time.Second, "the consumer's acks", func() bool {
		ci, err := js.Consumer(testutil.Context(t, 5*time.Second), event.DefaultStream, "failures-e2e")
		if err != nil {
			return false
		}
		info, err := ci.Info(testutil.Context(t, 5*time.Second))
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	first.stop(t)
	second := startConsumer(t, consumer, reader)
	if late := time.Until(start.Add(lateAt)); late < time.Second {
		t.Fatalf("the consumer restarted %s before the late failure: the machine is too slow for this test", late)
	}
	testutil.EventuallyWithin(t, 30*time.Second, "the late failure printed", func() bool { return len(second.lines()) >= 1 })
	second.stop(t)

	want := func(lines []string, failures ...string) {
		t.Helper()
		var got []string
		for _, l := range lines {
			m := consumerLine.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("consumer line %q is not what the example prints", l)
			}
			got = append(got, m[1]+" "+m[2])
		}
		slices.Sort(got)
		if !slices.Equal(got, failures) {
			t.Errorf("consumer printed %q, want the failures %q", lines, failures)
		}
	}
	want(first.lines(), t1+" FAILED", t2+" MIGRATION_FAILED")
	want(second.lines(), t4+" FAILED")

	// The stream holds more than the failures: the filter did the work.
	other := 0
	for _, env := range streamEvents(t, js) {
		if env.Data.Kind != event.StatusChanged || env.Data.Outcome != event.OutcomeFailed {
			other++
		}
	}
	if other < 5 {
		t.Errorf("the stream holds %d events besides the failures, want at least the 5 discoveries", other)
	}
}

// consumerLine is one line the example prints: task, status.
var consumerLine = regexp.MustCompile(`^failed project=\S+ task=(\S+) status=(\S+) id=[0-9a-f]+ at=\S+: .+$`)

// consumerBinary builds examples/consumer into the test's folder.
func consumerBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "consumer")
	if out, err := exec.Command("go", "build", "-o", path, "github.com/dcs-watcher/watcher/examples/consumer").CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/consumer: %v\n%s", err, out)
	}
	return path
}

// readerEnv reads the NATS_* variables of the watcher's reader.env.
func readerEnv(t *testing.T, dataDir string) map[string]string {
	t.Helper()
	f, err := os.Open(broker.ReaderEnvPath(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = strings.Trim(v, "'")
		}
	}
	if env["NATS_URL"] == "" || env["NATS_USER"] == "" || env["NATS_PASSWORD"] == "" {
		t.Fatalf("reader.env lacks NATS_URL, NATS_USER or NATS_PASSWORD")
	}
	return env
}

func readerJS(t *testing.T, env map[string]string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(env["NATS_URL"], nats.UserInfo(env["NATS_USER"], env["NATS_PASSWORD"]))
	if err != nil {
		t.Fatalf("connect as the reader: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// streamEvents decodes every message of the stream, as the reader reads it.
func streamEvents(t *testing.T, js jetstream.JetStream) []event.Envelope {
	t.Helper()
	ctx := testutil.Context(t, 30*time.Second)
	st, err := js.Stream(ctx, event.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Envelope
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		if m.Subject == event.HeartbeatSubject("") {
			continue // the watcher's liveness, not an event about a task
		}
		env, err := event.Decode(m.Data)
		if err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		out = append(out, env)
	}
	return out
}

// consumerProc is one run of the example consumer: a child like the
// watcher's (stderr in logs, stopped the same way), its stdout apart.
type consumerProc struct {
	*watcherProc
	out *testutil.SyncBuffer
}

// startConsumer runs the example with the reader's variables, as
// `. reader.env` gives them, and waits for it to consume.
func startConsumer(t *testing.T, bin string, reader map[string]string) consumerProc {
	t.Helper()
	c := consumerProc{out: &testutil.SyncBuffer{}, watcherProc: &watcherProc{
		cmd:  exec.Command(bin, "-durable", "failures-e2e", "-project", sim.FleetProjectID),
		logs: &testutil.SyncBuffer{}, done: make(chan struct{}),
	}}
	c.cmd.Env = childEnv("NATS_URL="+reader["NATS_URL"], "NATS_USER="+reader["NATS_USER"], "NATS_PASSWORD="+reader["NATS_PASSWORD"])
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start the consumer: %v", err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(c.kill)
	testutil.EventuallyWithin(t, 20*time.Second, "the consumer consuming", func() bool {
		if c.exited() {
			t.Fatalf("the consumer exited: %v\n%s", c.err, c.logs.String())
		}
		return strings.Contains(c.logs.String(), "consuming ")
	})
	return c
}

func (c consumerProc) lines() []string {
	s := strings.TrimSpace(c.out.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
