package dcs_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

const (
	progProject = "1f2e3d4c5b6a79880716253443526170"
	progAK      = "AKplantedProgress0011"
	progSK      = "SKplantedProgress0012"
	logPassword = "Planted-Redis-Pw-0013"
)

var progStart = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// progressScenario: a full sync that ramps, stalls and goes incremental
// with a lag; an import that fails with ERROR lines, one quoting a password.
const progressScenario = `
project_id: ` + progProject + `
tasks:
  - id: full1
    steps:
      - at: 0s
        status: FULLMIGRATING
        progress: {percent: {from: 0, to: 50}, source_dbsize: 2000, kbps: 100.5, ops: 40}
      - {at: 100s, progress: {kbps: 0}}
      - {at: 200s, status: INCRMIGEATING, progress: {percent: 100, lag: {from: 0, to: 300}}}
      - {at: 300s, progress: {lag: 0}}
  - id: fail1
    target: {id: dst, password: ` + logPassword + `}
    steps:
      - {at: 0s, status: MIGRATING, logs: [{message: import started}]}
      - at: 50s
        status: FAILED
        logs:
          - {level: ERROR, message: "dump.rdb is not a valid RDB file", code: MIG.0102, keywords: [dump.rdb]}
          - {after: 1s, level: ERROR, message: "the target refused AUTH ` + logPassword + `", keywords: ["requirepass ` + logPassword + `"]}
          - {after: 2s, level: WARN, message: "giving up"}
`

type progFixture struct {
	client *dcs.Client
	srv    *sim.Server
	clock  *testutil.Clock
	calls  *[]string
}

// progressSim serves progressScenario plus faults with AK/SK checked, and
// a client that signs with them and records what Observe hears.
func progressSim(t *testing.T, faults string, maxBody int64) progFixture {
	t.Helper()
	sc, err := sim.ParseScenario([]byte(progressScenario + faults))
	if err != nil {
		t.Fatal(err)
	}
	clock := testutil.NewClock(progStart)
	srv := sim.New(sc, sim.Options{AK: progAK, SK: progSK, Clock: clock.Now, Start: progStart})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	calls := new([]string)
	c, err := dcs.New(dcs.Options{
		Endpoint: hs.URL, ProjectID: progProject, MaxBodyBytes: maxBody, Now: clock.Now,
		Credentials: dcs.Credentials{AK: secret.Secret(progAK), SK: secret.Secret(progSK)},
		Observe:     func(call, outcome string, _ time.Duration) { *calls = append(*calls, call+" "+outcome) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return progFixture{client: c, srv: srv, clock: clock, calls: calls}
}

func (f progFixture) at(d time.Duration) { f.clock.Set(progStart.Add(d)) }

func show(s dcs.Stats) string {
	var out []string
	add := func(name string, v any) { out = append(out, fmt.Sprintf("%s=%v", name, v)) }
	for _, f := range []struct {
		name string
		v    *float64
	}{{"percent", s.Percent}, {"kbps", s.InputKbps}} {
		if f.v != nil {
			add(f.name, *f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"lag", s.Lag}, {"src", s.SourceDBSize}, {"dst", s.TargetDBSize}, {"ops", s.Ops}} {
		if f.v != nil {
			add(f.name, *f.v)
		}
	}
	if s.Migrating != nil {
		add("migrating", *s.Migrating)
	}
	return strings.Join(out, " ")
}

// The client reads the simulator's stats over the real wire, signed: the
// ramp, the stall, the lag that grows and the "0" that means in sync.
func TestStatsFromSimulator(t *testing.T) {
	f := progressSim(t, "", 0)
	for _, tt := range []struct {
		at   time.Duration
		want string
	}{
		{50 * time.Second, "percent=25 kbps=100.5 src=2000 dst=500 ops=40 migrating=true"},
		{150 * time.Second, "percent=50 kbps=0 src=2000 dst=1000 ops=40 migrating=true"},
		{250 * time.Second, "percent=100 kbps=0 lag=150 src=2000 dst=2000 ops=40 migrating=true"},
		{300 * time.Second, "percent=100 kbps=0 lag=0 src=2000 dst=2000 ops=40 migrating=true"},
	} {
		f.at(tt.at)
		s, info, err := f.client.Stats(t.Context(), "full1")
		if err != nil {
			t.Fatalf("at %s: %v", tt.at, err)
		}
		if got := show(s); got != tt.want || info.RequestID == "" {
			t.Errorf("at %s: %s (request id %q)\nwant %s", tt.at, got, info.RequestID, tt.want)
		}
	}
	if got := strings.Join(*f.calls, ","); got != "stats ok,stats ok,stats ok,stats ok" {
		t.Errorf("observed %s", got)
	}
	if c := f.srv.Calls(); c.Stats != 4 || c.AuthFailures != 0 {
		t.Errorf("simulator counted %+v, want 4 stats calls, all signed right", c)
	}
	if _, _, err := f.client.Stats(t.Context(), "no-such-task"); !errors.Is(err, dcs.ErrGone) {
		t.Errorf("unknown task: %v, want ErrGone", err)
	}
}

// The simulator's quirks are read as the same stats; its broken answers
// fail with the class a poller acts on.
func TestStatsUnderSimulatorFaults(t *testing.T) {
	const want = "percent=25 kbps=100.5 src=2000 dst=500 ops=40 migrating=true"
	tests := []struct {
		fault   string
		maxBody int64
		want    string
		class   error
	}{
		{"{at: 40s, for: 20s, kind: numbers}", 0, want, nil},
		{"{at: 40s, for: 20s, kind: nulls}", 0, "percent=25 migrating=true", nil},
		{"{at: 40s, for: 20s, kind: nulls, fields: [offset, is_migrating, full_migration_progress]}", 0, "kbps=100.5 src=2000 dst=500 ops=40", nil},
		{"{at: 40s, for: 20s, kind: malformed, call: stats}", 0, "", dcs.ErrBadResponse},
		{"{at: 40s, for: 20s, kind: oversized, bytes: 2048}", 1024, "", dcs.ErrBadResponse},
		{"{at: 40s, for: 20s, kind: server_error, task: full1}", 0, "", dcs.ErrRetryable},
		{"{at: 40s, for: 20s, kind: throttle}", 0, "", dcs.ErrThrottled},
		{"{at: 40s, for: 20s, kind: auth}", 0, "", dcs.ErrAuth},
		{"{at: 40s, for: 20s, kind: server_error, call: logs}", 0, want, nil},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			f := progressSim(t, "faults:\n  - "+tt.fault+"\n", tt.maxBody)
			f.at(50 * time.Second)
			s, _, err := f.client.Stats(t.Context(), "full1")
			if tt.class != nil {
				if !errors.Is(err, tt.class) {
					t.Fatalf("err = %v, want %v", err, tt.class)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := show(s); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// The client reads the simulator's log over the real wire: newest first,
// filtered, paged, times read, and the password a line quotes scrubbed.
func TestLogsFromSimulator(t *testing.T) {
	f := progressSim(t, "", 0)
	f.at(60 * time.Second)
	entries, n, _, err := f.client.Logs(t.Context(), "fail1", dcs.LogQuery{Level: "ERROR"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, fmt.Sprintf("%s %s %s %s %v", e.Time.Format(time.TimeOnly), e.Level, e.Code, e.Message, e.Keywords))
	}
	want := []string{
		"12:00:51 ERROR  the target refused AUTH <secret> [requirepass <secret>]",
		"12:00:50 ERROR MIG.0102 dump.rdb is not a valid RDB file [dump.rdb]",
	}
	if n != 2 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log_num %d, entries\n%s\nwant 2\n%s", n, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if entries[0].CreatedAt != "2025-06-01T12:00:51.000Z" {
		t.Errorf("CreatedAt = %q, want the raw RFC 3339 text", entries[0].CreatedAt)
	}
	if text := fmt.Sprintf("%+v", entries); strings.Contains(text, logPassword) {
		t.Errorf("entries leak the planted password: %s", text)
	}

	page, n, _, err := f.client.Logs(t.Context(), "fail1", dcs.LogQuery{Offset: 1, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 || len(page) != 2 || page[0].Level != "ERROR" || page[1].Message != "dump.rdb is not a valid RDB file" {
		t.Errorf("page 2 of all levels: log_num %d, %+v", n, page)
	}
	f.at(10 * time.Second)
	if entries, n, _, err := f.client.Logs(t.Context(), "fail1", dcs.LogQuery{Level: "ERROR"}); err != nil || n != 0 || len(entries) != 0 {
		t.Errorf("before the failure: %v, log_num %d, %v; want no ERROR line", err, n, entries)
	}
	if got := strings.Join(*f.calls, ","); got != "logs ok,logs ok,logs ok" {
		t.Errorf("observed %s", got)
	}
}

func TestLogsUnderSimulatorFaults(t *testing.T) {
	t.Run("nulls", func(t *testing.T) {
		f := progressSim(t, "faults:\n  - {at: 55s, for: 10s, kind: nulls, call: logs}\n", 0)
		f.at(60 * time.Second)
		entries, n, _, err := f.client.Logs(t.Context(), "fail1", dcs.LogQuery{Level: "ERROR"})
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 || len(entries) != 2 || entries[1].Code != "" || entries[1].Keywords != nil || entries[1].Message == "" {
			t.Errorf("log_num %d, %+v: want two lines without code and keywords", n, entries)
		}
	})
	t.Run("null log_num and logs", func(t *testing.T) {
		f := progressSim(t, "faults:\n  - {at: 55s, for: 10s, kind: nulls, fields: [log_num, migration_logs]}\n", 0)
		f.at(60 * time.Second)
		entries, n, _, err := f.client.Logs(t.Context(), "fail1", dcs.LogQuery{})
		if err != nil || n != -1 || len(entries) != 0 {
			t.Errorf("%v, log_num %d, %v: want no lines and an unknown count", err, n, entries)
		}
	})
	t.Run("oversized", func(t *testing.T) {
		f := progressSim(t, "faults:\n  - {at: 55s, for: 10s, kind: oversized, bytes: 4096, task: fail1}\n", 2048)
		f.at(60 * time.Second)
		if _, _, _, err := f.client.Logs(t.Context(), "fail1", dcs.LogQuery{}); !errors.Is(err, dcs.ErrBadResponse) {
			t.Errorf("err = %v, want ErrBadResponse", err)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		f := progressSim(t, "faults:\n  - {at: 55s, for: 10s, kind: malformed}\n", 0)
		f.at(60 * time.Second)
		_, _, _, err := f.client.Logs(t.Context(), "fail1", dcs.LogQuery{})
		if !errors.Is(err, dcs.ErrBadResponse) || strings.Contains(err.Error(), logPassword) {
			t.Errorf("err = %v, want ErrBadResponse without the password", err)
		}
	})
}
