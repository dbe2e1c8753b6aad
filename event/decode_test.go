package event_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dcs-watcher/watcher/event"
)

const good = `{"specversion":"1.0","id":"abc","source":"dcs://r/projects/p","type":"com.huaweicloud.dcs.migration.discovered.v1",
"subject":"t","time":"2026-03-01T12:00:00Z","datacontenttype":"application/json","data":{"kind":"discovered","project_id":"p","task_id":"t"}}`

// TestDecodeRefuses: each broken body gets an error of its class that
// says what is wrong and where.
func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		name, body string
		is         error
		says       string
	}{
		{"empty", ``, event.ErrMalformed, "empty message body"},
		{"not JSON", `{"specversion":`, event.ErrMalformed, "not JSON"},
		{"an array", `[1]`, event.ErrMalformed, "the body is a JSON array, not an object"},
		{"a field of the wrong type", strings.Replace(good, `"task_id":"t"`, `"task_id":7`, 1), event.ErrMalformed, "field data.task_id: a JSON number where string belongs"},
		{"another specversion", strings.Replace(good, `"1.0"`, `"0.3"`, 1), event.ErrMalformed, `specversion "0.3"`},
		{"no id", strings.Replace(good, `"id":"abc"`, `"id":""`, 1), event.ErrMalformed, "no id"},
		{"a stranger's type", strings.Replace(good, "com.huaweicloud.dcs.migration.", "org.example.", 1), event.ErrMalformed, "is not a DCS migration event"},
		{"a type without version", strings.Replace(good, "discovered.v1", "discovered", 1), event.ErrMalformed, "has no <kind>.<version>"},
		{"a newer version", strings.Replace(good, ".v1", ".v2", 1), event.ErrVersion, "is version v2, this package reads v1"},
		{"no kind", strings.Replace(good, `"kind":"discovered",`, ``, 1), event.ErrMalformed, "data.kind is missing"},
		{"kind and type disagree", strings.Replace(good, `"kind":"discovered"`, `"kind":"removed"`, 1), event.ErrMalformed, `data.kind "removed" disagrees`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := event.Decode([]byte(tt.body))
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("Decode = %v, want %v saying %q", err, tt.is, tt.says)
			}
		})
	}
}

// TestDecodeLenient: what a newer watcher may add within v1 is read, not
// refused: unknown fields, a kind, status and outcome this version does
// not know.
func TestDecodeLenient(t *testing.T) {
	body := strings.NewReplacer(`"kind":"discovered"`, `"kind":"rebalanced","outcome":"paused","extra":{"a":1}`,
		"discovered.v1", "rebalanced.v1", `"subject":"t"`, `"subject":"t","newext":"x"`).Replace(good)
	env, err := event.Decode([]byte(body))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if env.Data.Kind != "rebalanced" || env.Data.Outcome != "paused" || env.Data.TaskID != "t" || env.ID != "abc" {
		t.Fatalf("decoded %+v", env)
	}
}

func TestSubject(t *testing.T) {
	tests := []struct {
		s              event.Subject
		filter, string string
	}{
		{event.Subject{}, "dcs.migration.*.*.*.*.*", "dcs.migration._._._.NONE._"},
		{event.Subject{Prefix: "a.b", Project: "p", Task: "t", Kind: event.StatusChanged, Status: "FAILED", Outcome: event.OutcomeFailed},
			"a.b.p.t.status_changed.FAILED.failed", "a.b.p.t.status_changed.FAILED.failed"},
		{event.Subject{Project: "my project.1", Task: "a*b>c", Status: "WEIRD STATUS"},
			"dcs.migration.my_project_1.a_b_c.*.WEIRD_STATUS.*", "dcs.migration.my_project_1.a_b_c._.WEIRD_STATUS._"},
	}
	for _, tt := range tests {
		if got := tt.s.Filter(); got != tt.filter {
			t.Errorf("%+v.Filter() = %q, want %q", tt.s, got, tt.filter)
		}
		if got := tt.s.String(); got != tt.string {
			t.Errorf("%+v.String() = %q, want %q", tt.s, got, tt.string)
		}
	}
}
