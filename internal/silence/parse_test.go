package silence_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/silence"
)

func TestParseMatchers(t *testing.T) {
	tests := []struct {
		flags []string
		want  notify.Match
	}{
		{[]string{"name=orders-*"}, notify.Match{TaskName: "orders-*"}},
		{[]string{"name=orders-*", "outcome=failed"}, notify.Match{TaskName: "orders-*", Outcomes: []dcs.Outcome{dcs.OutcomeFailed}}},
		{[]string{"task=0b5e*", "project=p1"}, notify.Match{TaskID: "0b5e*", Project: "p1"}},
		{[]string{"kind=status_changed,removed"}, notify.Match{Kinds: []diff.Kind{diff.StatusChanged, diff.Removed}}},
		{[]string{"status=MIGRATION_FAILED"}, notify.Match{Statuses: []dcs.Status{dcs.Normalize("MIGRATION_FAILED")}}},
		{[]string{"severity=critical, warning"}, notify.Match{Severities: []notify.Severity{"critical", "warning"}}},
		{[]string{" name = a "}, notify.Match{TaskName: "a"}},
	}
	for _, tt := range tests {
		got, err := silence.ParseMatchers("--match", tt.flags)
		if err != nil {
			t.Errorf("%q: %v", tt.flags, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q = %+v, want %+v", tt.flags, got, tt.want)
		}
	}
}

// Each bad flag is refused with the flag, the value and what is wrong.
func TestParseMatchersErrors(t *testing.T) {
	tests := []struct {
		flags []string
		want  []string // substrings of the error
	}{
		{nil, []string{"--match", "at least one"}},
		{[]string{"orders"}, []string{`--match "orders"`, "key=value"}},
		{[]string{"colour=red"}, []string{`unknown key "colour"`, "name, task, project"}},
		{[]string{"name="}, []string{`--match "name="`, "empty value"}},
		{[]string{"name=[a"}, []string{`invalid glob "[a"`}},
		{[]string{"kind=exploded"}, []string{`unknown kind "exploded"`, "status_changed"}},
		{[]string{"status=SLEEPING"}, []string{`unknown status "SLEEPING"`}},
		{[]string{"outcome=broken"}, []string{`unknown outcome "broken"`, "failed"}},
		{[]string{"severity=loud"}, []string{`unknown severity "loud"`, "critical"}},
		{[]string{"outcome=failed", "outcome=stopped"}, []string{"given twice", "outcome=a,b"}},
	}
	for _, tt := range tests {
		_, err := silence.ParseMatchers("--match", tt.flags)
		if err == nil {
			t.Errorf("%q: accepted", tt.flags)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not say %q", tt.flags, err, w)
			}
		}
	}
}
