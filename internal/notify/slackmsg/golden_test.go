package slackmsg

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// update rewrites the golden files (testdata/golden/ and the card's under
// testdata/): go test ./internal/notify/slackmsg -run 'Golden|Card' -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenStatus is a status of each outcome, as a task would carry it, and
// the error message a failed task shows.
var goldenStatus = []struct {
	outcome dcs.Outcome
	status  string
	err     string
}{
	{dcs.OutcomeSucceeded, "SUCCESS", ""},
	{dcs.OutcomeFailed, "FAILED", "source instance unreachable: connection reset by peer"},
	{dcs.OutcomeStopped, "TERMINATED", ""},
	{dcs.OutcomeInProgress, "INCRMIGEATING", ""},
	{dcs.OutcomeUnknown, "PAUSED", ""},
}

// goldenMessages are the messages the golden files hold, by file name
// (without .json): every kind x outcome an event can have, a grouped
// message and a message with mentions. Times are fixed, so the output is
// the same on every run.
func goldenMessages(t *testing.T) map[string]slack.WebhookMessage {
	t.Helper()
	out := map[string]slack.WebhookMessage{}
	with := func(status, errMsg string) *dcs.Task {
		tk := task("orders-cache-move", status)
		tk.ErrorMessage = errMsg
		return tk
	}
	for _, s := range goldenStatus {
		curr := with(s.status, s.err)
		prevStatus := "FULLMIGRATING"
		if s.status == "TERMINATED" {
			prevStatus = "TERMINATING"
		}
		discovered := envelope("ev-discovered-"+string(s.outcome), diff.Discovered, nil, curr, 0)
		changedStatus := envelope("ev-status-"+string(s.outcome), diff.StatusChanged, with(prevStatus, ""), curr, 2*time.Hour+5*time.Minute)
		tsc := envelope("ev-tsc-"+string(s.outcome), diff.TaskStatusChanged, with(s.status, s.err), curr, 0)
		tsc.Data.Scope = diff.ScopeTask
		tsc.Data.Changes = []diff.FieldChange{{Field: "task_status", Old: "", New: "EXCHANGING"}}
		changed := envelope("ev-changed-"+string(s.outcome), diff.Changed, with(s.status, s.err), curr, 0)
		changed.Data.Changes = []diff.FieldChange{
			{Field: "description", Old: "", New: "move orders cache to the new region"},
			{Field: "source_instance.addrs", Old: "192.168.0.9:6379", New: "192.168.0.10:6379"},
		}
		removed := envelope("ev-removed-"+string(s.outcome), diff.Removed, curr, nil, 0)
		for kind, env := range map[diff.Kind]notify.Envelope{
			diff.Discovered: discovered, diff.StatusChanged: changedStatus, diff.TaskStatusChanged: tsc,
			diff.Changed: changed, diff.Removed: removed,
		} {
			if env.Data.Outcome != s.outcome {
				t.Fatalf("%s %s: outcome %s", kind, s.outcome, env.Data.Outcome)
			}
			out[string(kind)+"_"+string(s.outcome)] = Render(env)
		}
	}
	meta := notify.Meta{Region: "cn-north-4", ProjectID: project, ObservedAt: observed()}
	watch := map[string]diff.Event{
		"watch_degraded_unknown_task": {ID: "ev-degraded-task", Kind: diff.WatchDegraded, TaskID: task("", "").ID,
			Prev: task("orders-cache-move", "INCRMIGEATING"), Reason: "throttled: APIGW.0308 the API is throttled"},
		"watch_degraded_unknown_api": {ID: "ev-degraded-api", Kind: diff.WatchDegraded, Reason: "unavailable: HTTP 500 DCS.5000 internal error"},
		"watch_degraded_unknown_slack": {ID: "ev-degraded-slack", Kind: diff.WatchDegraded, Scope: diff.ScopeSlack,
			Reason: "slack answered 404 no_service: the webhook was revoked"},
		"watch_degraded_unknown_store": {ID: "ev-degraded-store", Kind: diff.WatchDegraded, Scope: diff.ScopeStore,
			Reason: "stream DCS_MIGRATION not found; recreated"},
		"watch_recovered_unknown_task": {ID: "ev-recovered-task", Kind: diff.WatchRecovered, TaskID: task("", "").ID,
			Curr: task("orders-cache-move", "INCRMIGEATING"), Reason: "throttled: APIGW.0308 the API is throttled"},
		"watch_recovered_unknown_api": {ID: "ev-recovered-api", Kind: diff.WatchRecovered, Reason: "unavailable: HTTP 500 DCS.5000 internal error"},
	}
	for name, ev := range watch {
		out[name] = Render(notify.Build(prefix, ev, meta))
	}

	example := NewRenderer(loadSet(t, exampleTemplate), []string{"S0ONCALL"}, zeroLog())
	failed := envelope("ev-example", diff.StatusChanged, with("FULLMIGRATING", ""), with("FAILED", goldenStatus[1].err), 2*time.Hour+5*time.Minute)
	out["example_template_status_changed_failed"] = example.Render(failed)

	catchUp := envelope("ev-catch-up", diff.StatusChanged, with("FULLMIGRATING", ""), with("FAILED", goldenStatus[1].err), 2*time.Hour+5*time.Minute)
	catchUp.Data.CatchUp = "k3q9x2m4ab"
	out["catch_up_status_changed_failed"] = Render(catchUp)

	out["mentions_status_changed_failed"] = WithMentions(out["status_changed_failed"], []string{"S0ONCALL", "U0LEAD", "@here"})

	var failures []notify.Envelope
	for i := range 3 {
		curr := burstTask(i, "FAILED")
		curr.ErrorMessage = []string{"source instance unreachable", "disk full on target", ""}[i]
		env := envelope(fmt.Sprintf("ev-group-%d", i), diff.StatusChanged, burstTask(i, "INCRMIGEATING"), curr, 0)
		env.Time = env.Time.Add(time.Duration(i) * 30 * time.Second)
		failures = append(failures, env)
	}
	out["group_status_changed_failed"] = single(t, RenderGroup(failures))
	var shared []notify.Envelope
	for i := range 3 {
		curr := burstTask(i, "FAILED")
		curr.ErrorMessage = "AUTH failed: wrong source password"
		shared = append(shared, envelope(fmt.Sprintf("ev-shared-%d", i), diff.StatusChanged, burstTask(i, "INCRMIGEATING"), curr, 0))
	}
	out["group_status_changed_failed_shared_reason"] = single(t, RenderGroup(shared))
	var removed []notify.Envelope
	for i, st := range []string{"SUCCESS", "FAILED", "PAUSED"} {
		removed = append(removed, envelope(fmt.Sprintf("ev-gone-%d", i), diff.Removed, burstTask(i, st), nil, 0))
	}
	out["group_removed"] = single(t, RenderGroup(removed))
	out["group_mentions_status_changed_failed"] = WithMentions(out["group_status_changed_failed"], []string{"S0ONCALL"})
	return out
}

func single(t *testing.T, parts []GroupPart) slack.WebhookMessage {
	t.Helper()
	if len(parts) != 1 {
		t.Fatalf("%d parts, want 1", len(parts))
	}
	return parts[0].Msg
}

// goldenJSON is the webhook payload as a golden file holds it: indented,
// with <, > and & as they are (the bytes Slack gets differ only in
// json.Marshal writing them as \u003c and the like).
func goldenJSON(t *testing.T, msg slack.WebhookMessage) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(msg); err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b.Bytes()
}

// TestGolden compares the rendered payload of every kind x outcome (and a
// grouped message, and mentions) with testdata/golden, byte for byte.
// Regenerate with: go test ./internal/notify/slackmsg -run Golden -update
func TestGolden(t *testing.T) {
	msgs := goldenMessages(t)
	dir := filepath.Join("testdata", "golden")
	names := make([]string, 0, len(msgs))
	for name := range msgs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			checkLimits(t, msgs[name])
			golden(t, filepath.Join("golden", name+".json"), msgs[name])
		})
	}
	if !*update {
		// A golden file nothing renders any more is stale.
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, f := range files {
			if _, ok := msgs[filepath.Base(f[:len(f)-len(".json")])]; !ok {
				t.Errorf("%s: no message renders it; remove it", f)
			}
		}
	}
}
