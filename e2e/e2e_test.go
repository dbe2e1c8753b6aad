package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/dcs-watcher/watcher/e2e/fixture"
	"github.com/dcs-watcher/watcher/internal/broker"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestEndToEnd drives simulator -> watcher -> embedded NATS -> Slack through
// a scenario with an API outage and checks the exact events and Slack
// messages, the subjects a subscriber filters on, and that no planted secret
// reaches any output.
func TestEndToEnd(t *testing.T) {
	h := newHarness(t, e2eScenario, nil)

	reader, err := broker.ReaderCredentials(h.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(h.app.Broker.ClientURL(), nats.UserInfo(reader.User, reader.Password.Reveal()))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	all := make(chan *nats.Msg, 100)
	terminated := make(chan *nats.Msg, 10)
	failed := make(chan *nats.Msg, 10)
	for subj, ch := range map[string]chan *nats.Msg{
		"dcs.migration.>": all,
		"dcs.migration.*.*.status_changed.TERMINATED.>": terminated,
		// One subscription for every failure, whatever its spelling.
		"dcs.migration." + project + ".*.*.*.failed": failed,
	} {
		if _, err := nc.ChanSubscribe(subj, ch); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	// Tasks are committed concurrently within a cycle: each task's events
	// keep their order, tasks of one cycle are compared in task id order.
	var got []string
	for _, s := range []int{0, 10, 20, 26, 31, 40, 46, 50, 51} {
		before := len(h.published())
		h.cycleAt(time.Duration(s) * time.Second)
		cycle := h.published()[before:]
		slices.SortStableFunc(cycle, func(a, b notify.Envelope) int { return strings.Compare(a.Data.TaskID, b.Data.TaskID) })
		for _, e := range cycle {
			got = append(got, fixture.Summary(e))
		}
	}

	want := []string{
		"discovered " + taskA + " RUNNING",
		"discovered " + taskB + " MIGRATING",
		"discovered " + taskC + " SUCCESS",
		"status_changed " + taskA + " FULLMIGRATING",
		"task_status_changed " + taskA + " FULLMIGRATING source_instance",
		"task_status_changed " + taskA + " FULLMIGRATING target_instance",
		"status_changed " + taskA + " INCRMIGEATING",
		"watch_degraded _api NONE",
		"watch_recovered _api NONE",
		"status_changed " + taskB + " FAILED",
		"status_changed " + taskA + " TERMINATING",
		"removed " + taskC + " SUCCESS",
		"status_changed " + taskA + " TERMINATED",
		"task_status_changed " + taskA + " TERMINATED source_instance",
		"task_status_changed " + taskA + " TERMINATED target_instance",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}

	// A subscriber sees the same events on the documented subjects, each
	// valid against the published JSON Schema.
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	schema, err := c.Compile("../docs/event.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var received []notify.Envelope
	testutil.Eventually(t, "subscriber to receive every event", func() bool {
		for {
			select {
			case m := <-all:
				doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Data))
				if err != nil {
					t.Fatalf("subject %s: not JSON: %v", m.Subject, err)
				}
				if err := schema.Validate(doc); err != nil {
					t.Errorf("subject %s: event does not match docs/event.schema.json: %v", m.Subject, err)
				}
				var e notify.Envelope
				if err := json.Unmarshal(m.Data, &e); err != nil {
					t.Fatalf("subject %s: not an envelope: %v", m.Subject, err)
				}
				e.NATSSubject = m.Subject
				received = append(received, e)
			default:
				return len(received) >= len(want)
			}
		}
	})
	for i, e := range received {
		if e.SpecVersion != "1.0" || e.ID == "" || e.Type != "com.huaweicloud.dcs.migration."+string(e.Data.Kind)+".v1" ||
			e.Source != "dcs://cn-north-4/projects/"+project || e.DataContentType != "application/json" || e.Time.IsZero() {
			t.Errorf("event %d is not a valid CloudEvent: %+v", i, e)
		}
		task := e.Data.TaskID
		if task == "" {
			task = "_api"
		}
		status := "NONE"
		if e.Data.CurrentStatus != nil {
			status = e.Data.CurrentStatus.Normalized
		}
		if e.Subject != task {
			t.Errorf("event %d: CloudEvents subject %q, want the task id %q", i, e.Subject, task)
		}
		if wantSubj := fmt.Sprintf("dcs.migration.%s.%s.%s.%s.%s", project, task, e.Data.Kind, status, e.Data.Outcome); e.NATSSubject != wantSubj {
			t.Errorf("event %d on subject %s, want %s", i, e.NATSSubject, wantSubj)
		}
	}
	testutil.Eventually(t, "TERMINATED filter", func() bool { return len(terminated) == 1 })
	m := <-terminated
	if !strings.Contains(m.Subject, taskA) {
		t.Errorf("TERMINATED wildcard delivered %s", m.Subject)
	}
	testutil.Eventually(t, "FAILED filter", func() bool { return len(failed) == 1 })
	if m := <-failed; !strings.Contains(m.Subject, taskB+".status_changed.FAILED.failed") {
		t.Errorf("FAILED wildcard delivered %s", m.Subject)
	}

	// Slack: status changes, removal and the outage, in order; no first sight.
	wantSlack := []string{
		"orders-move: RUNNING -> FULLMIGRATING",
		"orders-move: FULLMIGRATING -> INCRMIGEATING",
		"watch_degraded",
		"watch_recovered",
		"sessions-import: MIGRATING -> FAILED",
		"orders-move: INCRMIGEATING -> TERMINATING",
		"old-task",
		"orders-move: TERMINATING -> TERMINATED",
	}
	testutil.Eventually(t, "Slack messages", func() bool { return len(h.slack.texts()) >= len(wantSlack) })
	texts := h.slack.texts()
	for i := range texts {
		texts[i] = html.UnescapeString(texts[i]) // Slack's mrkdwn escapes & < >
	}
	if len(texts) != len(wantSlack) {
		t.Fatalf("slack got %d messages, want %d: %q", len(texts), len(wantSlack), texts)
	}
	bodies := h.slack.bodies()
	for i, w := range wantSlack {
		if !strings.Contains(texts[i], w) && !strings.Contains(bodies[i], w) {
			t.Errorf("slack message %d = %q, want it to mention %q", i, texts[i], w)
		}
	}
	if !strings.Contains(bodies[4], "not a valid RDB file") {
		t.Errorf("the failure message does not carry the API's error_message: %s", bodies[4])
	}
	if !strings.Contains(bodies[0], "orders-old") || !strings.Contains(bodies[0], "10.0.0.2:6379") {
		t.Errorf("the status message lacks source/target: %s", bodies[0])
	}

	// Nothing the watcher wrote anywhere holds a planted secret.
	outputs := map[string]string{"logs": h.logs.String()}
	for i, b := range bodies {
		outputs[fmt.Sprintf("slack message %d", i)] = b
	}
	for i, e := range received {
		b, _ := json.Marshal(e)
		outputs[fmt.Sprintf("event %d", i)] = string(b)
	}
	for k, v := range kvValues(t, h) {
		outputs["snapshot "+k] = v
	}
	for i, err := range h.cycleErrors() {
		outputs[fmt.Sprintf("cycle error %d", i)] = err.Error()
	}
	fixture.AssertNoSecrets(t, outputs)
	if len(outputs) < 1+len(want)+len(wantSlack) {
		t.Fatalf("leak scan covered only %d outputs", len(outputs))
	}
}

func kvValues(t *testing.T, h *harness) map[string]string {
	t.Helper()
	kv, err := h.app.Broker.JS.KeyValue(h.ctx, h.cfg.NATS.KVBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.Keys(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		e, err := kv.Get(h.ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = string(e.Value())
	}
	if len(out) == 0 {
		t.Fatal("no snapshots stored")
	}
	return out
}
