package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// This file runs the real binary: a simulator child, watcher children that
// a test kills and restarts, a Slack webhook that records what it
// accepted, and a reader of the JetStream store the watcher left on disk.
// The tests built on it judge the watcher by what it leaves outside: the
// stream, the snapshot bucket, the Slack posts, against the simulator's
// truth.

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// watcherBinary builds ./cmd/watcher once per test run, when a test first
// needs it; TestMain removes it.
func watcherBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "watcher-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "watcher")
		goTool, err := exec.LookPath("go")
		if err != nil {
			binErr = fmt.Errorf("the go tool is not on PATH: %w", err)
			return
		}
		out, err := exec.Command(goTool, "build", "-o", binPath, "github.com/dcs-watcher/watcher/cmd/watcher").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ./cmd/watcher: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// removeBinary is called by TestMain once every test has run.
func removeBinary() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// childEnv is a clean environment for a child: nothing of the caller's
// WATCHER_* or HUAWEICLOUD_* variables leaks in.
func childEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	return append(env, extra...)
}

// tail is the last n bytes of s: the end of a log.
func tail(s string, n int) string { return s[max(0, len(s)-n):] }

// simProc is `watcher simulate --fleet` in a child process.
type simProc struct {
	url   string
	start time.Time
	sc    *sim.Scenario
}

// startSim serves the fleet o from start (the scenario's time zero), so
// that the test knows when each planned change happens.
func startSim(t *testing.T, bin string, o sim.FleetOptions, start time.Time) *simProc {
	t.Helper()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	url := startSimChild(t, bin, "--fleet", fmt.Sprint(o.Tasks), "--seed", fmt.Sprint(o.Seed),
		"--change-rate", fmt.Sprint(o.ChangeRate),
		"--change-from", o.ChangeFrom.String(), "--change-for", (o.ChangeTo - o.ChangeFrom).String(),
		"--start", start.UTC().Format(time.RFC3339Nano))
	return &simProc{url: url, start: start, sc: sim.Fleet(o)}
}

// startSimChild runs `watcher simulate` with args on a free loopback port
// and returns the address its first line gives.
func startSimChild(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"simulate", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = childEnv("HUAWEICLOUD_SDK_AK="+plantedAK, "HUAWEICLOUD_SDK_SK="+plantedSK)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errb := &testutil.SyncBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("simulator's first line: %v (stderr: %s)", err, errb.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	m := regexp.MustCompile(`http://\S+`).FindString(line)
	if m == "" {
		t.Fatalf("no address in the simulator's first line %q", line)
	}
	return m
}

// truth is the API's state now, from the simulator's /_sim/tasks.
func (s *simProc) truth(t *testing.T) sim.Truth {
	t.Helper()
	var tr sim.Truth
	simGet(t, s.url, sim.TasksPath, &tr)
	return tr
}

// simGet decodes into v the JSON the simulator at api serves on path (one
// of its /_sim/ pages).
func simGet(t *testing.T, api, path string, v any) {
	t.Helper()
	resp, err := http.Get(api + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
}

// fleetRun is a simulator fleet starting in two seconds and a watcher on
// natsURL (external NATS; "" for the embedded one in dataDir) posting to a
// recording Slack; the watcher's last logBytes of logs are shown when the
// test fails. cfg and env start the watcher again.
type fleetRun struct {
	s       *simProc
	slack   *slackServer
	w       *watcherProc
	logs    *testutil.SyncBuffer
	dataDir string
	cfg     string
	env     []string
}

func startFleetRun(t *testing.T, bin string, o sim.FleetOptions, natsURL string, logBytes int) fleetRun {
	t.Helper()
	r := fleetRun{s: startSim(t, bin, o, time.Now().Add(2*time.Second)), slack: newSlackServer(t), logs: &testutil.SyncBuffer{}, dataDir: t.TempDir()}
	r.cfg, r.env = watcherConfig(t, r.dataDir, r.s.url, natsURL), watcherEnv(r.slack.URL)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watcher logs (last %d bytes):\n%s", logBytes, tail(r.logs.String(), logBytes))
		}
	})
	r.w = startWatcher(t, bin, r.cfg, r.env, r.logs)
	return r
}

// watcherConfig writes the watcher's config file; secrets go through the
// environment (watcherEnv), as an operator's would.
func watcherConfig(t *testing.T, dataDir, endpoint, natsURL string) string {
	t.Helper()
	cfg := fmt.Sprintf(`log: {level: info, format: json}
data_dir: %q
dcs: {endpoint: %q, project_id: %q, rate_limit: 1000, concurrency: 8, timeout: 5s}
poll: {schedule: "@every 1s", discover: true, detail: on_change}
nats: {url: %q, listen: "127.0.0.1:0", duplicate_window: 1h}
slack: {enabled: true, group_min: 0, rate: 10, min_retry_delay: 200ms, max_retry_delay: 2s, timeout: 5s}
`, dataDir, endpoint, sim.FleetProjectID, natsURL)
	return testutil.WriteFile(t, "watcher.yaml", cfg)
}

func watcherEnv(slackURL string) []string {
	return childEnv("HUAWEICLOUD_SDK_AK="+plantedAK, "HUAWEICLOUD_SDK_SK="+plantedSK,
		"WATCHER_SLACK_WEBHOOK_URL="+slackURL+"/services/T0001/B0001/"+webhookSecret)
}

// watcherProc is one `watcher run` child.
type watcherProc struct {
	cmd   *exec.Cmd
	logs  *testutil.SyncBuffer
	done  chan struct{}
	err   error // Wait's, once done is closed
	ready time.Time
}

// startWatcher starts `watcher run -c cfg` and waits for its "watcher
// running" line.
func startWatcher(t *testing.T, bin, cfg string, env []string, logs *testutil.SyncBuffer) *watcherProc {
	t.Helper()
	mark := len(logs.String())
	w := spawnWatcher(t, bin, cfg, env, logs)
	w.waitRunning(t, mark, 30*time.Second)
	return w
}

// spawnWatcher starts `watcher run -c cfg` without waiting for anything.
func spawnWatcher(t *testing.T, bin, cfg string, env []string, logs *testutil.SyncBuffer) *watcherProc {
	t.Helper()
	w := &watcherProc{cmd: exec.Command(bin, "run", "-c", cfg), logs: logs, done: make(chan struct{})}
	w.cmd.Env = env
	w.cmd.Stdout = logs
	w.cmd.Stderr = logs
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start watcher: %v", err)
	}
	go func() { w.err = w.cmd.Wait(); close(w.done) }()
	t.Cleanup(func() { w.kill() })
	return w
}

// waitRunning waits for a "watcher running" line after mark in the logs;
// the test fails if the process exits first.
func (w *watcherProc) waitRunning(t *testing.T, mark int, within time.Duration) {
	t.Helper()
	testutil.EventuallyWithin(t, within, "the watcher running", func() bool {
		if w.exited() {
			t.Fatalf("watcher exited at start: %v\n%s", w.err, w.logs.String()[mark:])
		}
		return strings.Contains(w.logs.String()[mark:], `"message":"watcher running"`)
	})
	w.ready = time.Now()
}

// exited reports whether the process has ended.
func (w *watcherProc) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (w *watcherProc) kill() {
	select {
	case <-w.done:
		return
	default:
	}
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.done
}

// stop sends SIGTERM and waits for a clean exit.
func (w *watcherProc) stop(t *testing.T) {
	t.Helper()
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		w.kill()
		t.Fatalf("watcher did not stop within 30s of SIGTERM")
	}
	if w.err != nil {
		t.Errorf("watcher exited with %v after SIGTERM", w.err)
	}
}

// idCounts counts the posts of each event id.
func (s *slackServer) idCounts() map[string]int {
	n := map[string]int{}
	for _, p := range s.all() {
		for _, id := range p.ids {
			n[id]++
		}
	}
	return n
}

var transitionRe = regexp.MustCompile(`^(\S+): (\S+) -> (\S+) \(project`)

// caughtUp reports whether Slack has had, for every task that changed,
// the last status change of the plan (it may have come before others: an
// event a killed watcher held comes back after the consumer's ack wait).
func (s *slackServer) caughtUp(sp *simProc) bool { return len(s.behind(sp)) == 0 }

// behind lists the tasks for which caughtUp does not hold yet: Slack has
// no post of the task's last visible transition made after it happened
// (an earlier identical transition does not count). A status that held
// for less than 1.5 s (a 1 s cycle may miss it) is left out of the plan,
// and so is the "change" back to the status before it.
func (s *slackServer) behind(sp *simProc) []string {
	posted := map[string]time.Time{} // transition text -> its latest post
	for _, p := range s.all() {
		if m := transitionRe.FindStringSubmatch(p.text); m != nil {
			k := m[1] + ": " + m[2] + " -> " + m[3]
			posted[k] = later(posted[k], p.at)
		}
	}
	type hold struct {
		status string
		from   time.Duration
	}
	holds, names := map[string][]hold{}, map[string]string{}
	for _, ts := range sp.sc.Tasks {
		holds[ts.ID] = []hold{{*ts.Steps[0].Status, 0}}
	}
	for _, c := range sp.sc.StatusChanges() {
		holds[c.TaskID] = append(holds[c.TaskID], hold{c.Status, c.At})
		names[c.TaskID] = c.TaskName
	}
	var out []string
	for id, hs := range holds {
		var seen []hold
		for k, h := range hs {
			if k+1 < len(hs) && hs[k+1].from-h.from < 1500*time.Millisecond {
				continue // too short to be seen for sure
			}
			if len(seen) > 0 && seen[len(seen)-1].status == h.status {
				continue // no change the watcher could see
			}
			seen = append(seen, h)
		}
		if len(seen) < 2 {
			continue
		}
		prev, last := seen[len(seen)-2], seen[len(seen)-1]
		want := names[id] + ": " + prev.status + " -> " + last.status
		if posted[want].Before(sp.start.Add(last.from)) {
			out = append(out, want)
		}
	}
	return out
}

// storeEvent is one message of the events stream.
type storeEvent struct {
	seq     uint64
	subject string
	env     notify.Envelope
}

// storeView is what the watcher left in JetStream: the stream, the
// snapshots, the Slack consumer.
type storeView struct {
	events []storeEvent
	// snaps maps task id to its snapshot's status ("" when the record has
	// no task), for the project's records.
	snaps map[string]string
	// ackPending and pending are the Slack consumer's, -1 when it is missing.
	ackPending, pending int
}

// readStore reads the stream, the bucket and the consumer through js.
func readStore(t *testing.T, js jetstream.JetStream) storeView {
	t.Helper()
	ctx := testutil.Context(t, time.Minute)
	v := storeView{snaps: map[string]string{}, ackPending: -1, pending: -1}
	st, err := js.Stream(ctx, "DCS_MIGRATION")
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		if m.Subject == event.HeartbeatSubject("") {
			continue // the watchers' liveness, not what they saw
		}
		var env notify.Envelope
		if err := json.Unmarshal(m.Data, &env); err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		v.events = append(v.events, storeEvent{seq: seq, subject: m.Subject, env: env})
	}
	if c, err := st.Consumer(ctx, "watcher-slack"); err == nil {
		if ci, err := c.Info(ctx); err == nil {
			v.ackPending, v.pending = ci.NumAckPending, int(ci.NumPending)
		}
	}
	kv, err := js.KeyValue(ctx, "dcs_watcher_snapshots")
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return v // deleted, and not recreated yet: no snapshots
	}
	if err != nil {
		t.Fatalf("snapshot bucket: %v", err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatalf("snapshot keys: %v", err)
	}
	prefix := sim.FleetProjectID + "."
	for k := range keys.Keys() {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		e, err := kv.Get(ctx, k)
		if err != nil {
			t.Fatalf("snapshot %s: %v", k, err)
		}
		var rec struct {
			Task *struct {
				Status string `json:"status"`
			} `json:"task"`
		}
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			t.Fatalf("snapshot %s: %v", k, err)
		}
		st := ""
		if rec.Task != nil {
			st = rec.Task.Status
		}
		v.snaps[strings.TrimPrefix(k, prefix)] = st
	}
	return v
}

// readDataDir opens the embedded server's store, left in dataDir by a
// stopped watcher, with a server of the test's own, and reads it.
func readDataDir(t *testing.T, dataDir string) storeView {
	t.Helper()
	srv := testutil.RunJetStream(t, -1, filepath.Join(dataDir, "jetstream"), func(o *server.Options) {
		o.ServerName = "dcs-watcher" // the embedded server's: its store is keyed by it
	})
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	nc, js := testutil.Connect(t, srv.ClientURL())
	defer nc.Close()
	return readStore(t, js)
}

// norm is a raw status as the watcher normalises it.
func norm(raw string) string { return string(dcs.Normalize(raw)) }

// upInterval is a span during which the watcher could observe and record.
type upInterval struct{ from, to time.Time }

// audit is the comparison of a run's outputs with the API's truth.
type audit struct {
	planned, visible               int // status changes planned, and those a watcher that was up could see
	onStream, doubled, missing     int // status_changed events, doubled transitions, visible changes not on the stream
	breaks, strangers, rediscovers int // chain breaks, events matching no planned status, second discovered events
	idTwice                        int
	lastWrong, snapWrong           int
	slackExpected, slackMade       int
	slackDoubled, slackWindow      int // doubled posts, and those explained by a kill right after Slack's answer
	slackMissing, slackStray       int
	slackDisorder                  int // tasks whose events reached Slack out of stream order
	problems                       []string
}

func (a *audit) problem(format string, args ...any) {
	if len(a.problems) < 30 {
		a.problems = append(a.problems, fmt.Sprintf(format, args...))
	}
}

func (a audit) String() string {
	return fmt.Sprintf("status changes planned %d, visible %d; on the stream %d, doubled %d, missing %d, chain breaks %d, "+
		"not in the plan %d, rediscovered %d, id twice %d, last event != API %d, snapshot != API %d; "+
		"slack expected %d, made %d, doubled %d (of which in the kill window %d), missing %d, stray %d, tasks out of order %d",
		a.planned, a.visible, a.onStream, a.doubled, a.missing, a.breaks, a.strangers, a.rediscovers, a.idTwice,
		a.lastWrong, a.snapWrong, a.slackExpected, a.slackMade, a.slackDoubled, a.slackWindow, a.slackMissing, a.slackStray, a.slackDisorder)
}

// slackKinds are the kinds the default slack.kinds posts.
var slackKinds = map[string]bool{"status_changed": true, "removed": true, "watch_degraded": true, "watch_recovered": true}

// posted says whether the default Slack settings post e: a kind of
// slack.kinds, or (quiet start) the first sight of a task already failed.
func posted(e notify.Envelope) bool {
	return slackKinds[string(e.Data.Kind)] || e.Data.Kind == "discovered" && e.Data.Outcome == dcs.OutcomeFailed
}

// auditRun compares the stream, the snapshots and the Slack posts with the
// simulator's plan and truth. up are the spans in which the watcher could
// record; kills the moments of SIGKILL; fromStart says the stream holds
// every event since the watcher first saw the fleet (false after the
// stream was deleted and recreated: chains then start anywhere).
func auditRun(s *simProc, tr sim.Truth, v storeView, posts []slackPost, up []upInterval, kills []time.Time, fromStart bool) audit {
	var a audit
	truth := map[string]sim.TaskTruth{}
	for _, tt := range tr.Tasks {
		truth[tt.ID] = tt
	}
	// The plan of each task: its statuses and when each began.
	type hold struct {
		status   string
		from, to time.Time
	}
	plan := map[string][]hold{}
	for _, ts := range s.sc.Tasks {
		plan[ts.ID] = []hold{{status: norm(*ts.Steps[0].Status), from: s.start, to: s.start.Add(24 * time.Hour)}}
	}
	for _, c := range s.sc.StatusChanges() {
		h := plan[c.TaskID]
		at := s.start.Add(c.At)
		h[len(h)-1].to = at
		plan[c.TaskID] = append(h, hold{status: norm(c.Status), from: at, to: s.start.Add(24 * time.Hour)})
		a.planned++
	}
	// A change is visible if its status held for 3 s (three cycles) while
	// the watcher was up.
	visible := func(h hold) bool {
		var overlap time.Duration
		for _, u := range up {
			from, to := later(later(h.from, u.from), s.start), earlier(h.to, u.to)
			if to.After(from) {
				overlap += to.Sub(from)
			}
		}
		return overlap >= 3*time.Second
	}
	const slop = 2 * time.Second

	ids := map[string]int{}
	byTask := map[string][]storeEvent{}
	for _, e := range v.events {
		ids[e.env.ID]++
		if ids[e.env.ID] == 2 {
			a.idTwice++
			a.problem("event id %s twice on the stream", e.env.ID)
		}
		if e.env.Data.TaskID != "" {
			byTask[e.env.Data.TaskID] = append(byTask[e.env.Data.TaskID], e)
		}
	}
	for id, holds := range plan {
		// A visible hold is a visible change only if its status differs
		// from the last visible hold's: A, B for 0.6 s, A again shows the
		// watcher no change.
		change := make([]bool, len(holds))
		last := holds[0].status
		for k := 1; k < len(holds); k++ {
			if visible(holds[k]) {
				change[k] = holds[k].status != last
				last = holds[k].status
				if change[k] {
					a.visible++
				}
			}
		}
		matched := map[int]bool{}
		cur, next := "", 0 // chain status, first plan index still free
		discovered := 0
		var lastPrev, lastCurr string
		match := func(status string, at time.Time) {
			for k := next; k < len(holds); k++ {
				h := holds[k]
				if h.status == status && at.After(h.from.Add(-slop)) && at.Before(h.to.Add(slop)) {
					matched[k], next = true, k+1
					return
				}
			}
			a.strangers++
			a.problem("task %s: %s observed at %s matches no planned status", id, status, at.Sub(s.start))
		}
		for _, e := range byTask[id] {
			d := e.env.Data
			switch d.Kind {
			case "discovered":
				discovered++
				if discovered > 1 {
					a.rediscovers++
					a.problem("task %s discovered again (seq %d)", id, e.seq)
				}
				cur = d.CurrentStatus.Normalized
				match(cur, e.env.Time)
			case "status_changed":
				a.onStream++
				p, c := d.PreviousStatus.Normalized, d.CurrentStatus.Normalized
				switch {
				case p == lastPrev && c == lastCurr:
					a.doubled++
					a.problem("task %s: %s -> %s doubled (seq %d)", id, p, c, e.seq)
					continue
				case cur == "" && !fromStart:
				case p != cur:
					a.breaks++
					a.problem("task %s: chain breaks at seq %d: %s -> %s after %s", id, e.seq, p, c, cur)
				}
				lastPrev, lastCurr, cur = p, c, c
				match(c, e.env.Time)
			}
		}
		if fromStart && discovered == 0 {
			a.problem("task %s never discovered", id)
		}
		if fromStart {
			for k := 1; k < len(holds); k++ {
				if change[k] && !matched[k] {
					a.missing++
					a.problem("task %s: change to %s at %s (visible) not on the stream", id, holds[k].status, holds[k].from.Sub(s.start))
				}
			}
		}
		want := norm(truth[id].Status)
		if cur != "" && cur != want || cur == "" && fromStart {
			a.lastWrong++
			a.problem("task %s: last event says %q, the API %q", id, cur, want)
		}
		if got := norm(v.snaps[id]); got != want {
			a.snapWrong++
			a.problem("task %s: snapshot says %q, the API %q", id, got, want)
		}
	}

	// Slack: every event of a posted kind exactly once.
	expected := map[string]bool{}
	for _, e := range v.events {
		if posted(e.env) {
			expected[e.env.ID] = true
		}
	}
	a.slackExpected = len(expected)
	first := map[string]time.Time{}
	counts := map[string]int{}
	for _, p := range posts {
		a.slackMade++
		for _, id := range p.ids {
			counts[id]++
			if counts[id] == 1 {
				first[id] = p.at
			}
		}
	}
	for id, n := range counts {
		if !expected[id] {
			a.slackStray++
			a.problem("slack got event %s, which is not on the stream", id)
			continue
		}
		if n < 2 {
			continue
		}
		a.slackDoubled++
		// The accepted window: Slack answered, the watcher was killed
		// before it wrote the delivery mark.
		inWindow := false
		for _, k := range kills {
			if d := k.Sub(first[id]); d >= 0 && d < 500*time.Millisecond {
				inWindow = true
			}
		}
		if inWindow {
			a.slackWindow++
		} else {
			a.problem("slack got event %s %d times, with no kill right after the first", id, n)
		}
	}
	for _, e := range v.events {
		if expected[e.env.ID] && counts[e.env.ID] == 0 {
			a.slackMissing++
			d := e.env.Data
			a.problem("event %s (seq %d, task %s, %s to %s, published %s) never reached slack",
				e.env.ID, e.seq, d.TaskID, d.Kind, d.CurrentStatus.Normalized, e.env.Time.Sub(s.start))
		}
	}
	// Order: a task's events reach Slack in stream order (first posts).
	seq, taskOf := map[string]uint64{}, map[string]string{}
	for _, e := range v.events {
		seq[e.env.ID], taskOf[e.env.ID] = e.seq, e.env.Data.TaskID
	}
	lastSeq := map[string]uint64{}
	seen, disordered := map[string]bool{}, map[string]bool{}
	for _, p := range posts {
		for _, id := range p.ids {
			e, ok := seq[id]
			if !ok || seen[id] {
				continue
			}
			seen[id] = true
			task := taskOf[id]
			if e < lastSeq[task] && !disordered[task] {
				disordered[task] = true
				a.slackDisorder++
				a.problem("task %s: slack got seq %d after seq %d", task, e, lastSeq[task])
			}
			lastSeq[task] = max(lastSeq[task], e)
		}
	}
	return a
}

// failures returns the audit's failures: everything that breaks a
// guarantee (window doubles in Slack are the documented at-least-once).
func (a audit) failures() []string {
	var f []string
	add := func(n int, what string) {
		if n > 0 {
			f = append(f, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(a.doubled, "doubled transitions on the stream")
	add(a.missing, "visible changes missing from the stream")
	add(a.breaks, "chain breaks")
	add(a.strangers, "events matching no planned status")
	add(a.rediscovers, "tasks discovered twice")
	add(a.idTwice, "event ids twice on the stream")
	add(a.lastWrong, "tasks whose last event disagrees with the API")
	add(a.snapWrong, "tasks whose snapshot disagrees with the API")
	add(a.slackDoubled-a.slackWindow, "events posted to Slack twice outside the kill window")
	add(a.slackMissing, "events never posted to Slack")
	add(a.slackStray, "Slack posts of events not on the stream")
	add(a.slackDisorder, "tasks whose events reached Slack out of order")
	return f
}

// waitQuietAndDelivered waits until the fleet has made its last change
// and Slack has heard of every task's last change. It does not fail the
// test when that does not happen in time: the audit that follows says what
// is missing, which is more use than a timeout.
func waitQuietAndDelivered(t *testing.T, s *simProc, slack *slackServer, within time.Duration) sim.Truth {
	t.Helper()
	var tr sim.Truth
	deadline := time.Now().Add(within)
	for {
		tr = s.truth(t)
		if tr.Quiet && slack.caughtUp(s) {
			return tr
		}
		if time.Now().After(deadline) {
			b := slack.behind(s)
			t.Errorf("after %s: fleet quiet %v, Slack behind on %d tasks: %v", within, tr.Quiet, len(b), b[:min(len(b), 5)])
			if ps := slack.all(); len(ps) > 0 {
				t.Logf("a Slack text: %q", ps[0].text)
			}
			return tr
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// covered reports whether Slack has every event of v of a posted kind.
func covered(v storeView, slack *slackServer) bool {
	got := slack.idCounts()
	for _, e := range v.events {
		if posted(e.env) && got[e.env.ID] == 0 {
			return false
		}
	}
	return true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
