package delivery

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// TestPlan is the grouping rule on its own: which events share a message,
// and in which order the messages go.
func TestPlan(t *testing.T) {
	next := 0
	// ev is an event of task (a new task for each call when task is "").
	ev := func(kind diff.Kind, status, task string) *item {
		if task == "" {
			task = fmt.Sprintf("t%d", next)
			next++
		}
		var env notify.Envelope
		switch kind {
		case diff.StatusChanged:
			env = envelope(task+status, kind, burstTask(0, "MIGRATING"), burstTask(0, status), 0)
		default:
			env = notify.Build(prefix, diff.Event{ID: task + status, Kind: kind, Prev: burstTask(0, status)}, notify.Meta{ProjectID: project})
		}
		env.Data.TaskID = task
		return &item{env: env}
	}
	many := func(n int, kind diff.Kind, status string) []*item {
		out := make([]*item, n)
		for i := range out {
			out[i] = ev(kind, status, "")
		}
		return out
	}
	cat := func(parts ...[]*item) []*item {
		var out []*item
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	sc, rm := diff.StatusChanged, diff.Removed
	// Task A moves twice, with other tasks between.
	a1, a2, a3 := ev(sc, "FULLMIGRATING", "A"), ev(sc, "INCRMIGEATING", "A"), ev(sc, "FAILED", "A")
	b, c, d := ev(sc, "FAILED", ""), ev(sc, "FAILED", ""), ev(sc, "FAILED", "")
	e := ev(sc, "FULLMIGRATING", "")
	tests := []struct {
		name  string
		o     Options
		items []*item
		want  [][]*item // the events of each message, in order; nil: only check sizes
		sizes []int
	}{
		{name: "two, below GroupMin", items: many(2, sc, "FAILED"), sizes: []int{1, 1}},
		{name: "three", items: many(3, sc, "FAILED"), sizes: []int{3}},
		{name: "another status between does not split a group", items: cat(many(3, sc, "FAILED"), many(1, sc, "SUCCESS"), many(3, sc, "FAILED")), sizes: []int{6, 1}},
		{name: "interleaved statuses", items: cat(many(1, sc, "FAILED"), many(1, sc, "SUCCESS"), many(1, sc, "FAILED"), many(1, sc, "SUCCESS"), many(1, sc, "FAILED"), many(1, sc, "SUCCESS")), sizes: []int{3, 3}},
		{name: "spellings of one status are one group", items: cat(many(2, sc, "INCRMIGEATING"), many(1, sc, "INCRMIGRATING")), sizes: []int{3}},
		{name: "another kind is another group", items: cat(many(2, sc, "FAILED"), many(1, rm, "FAILED"), many(2, sc, "FAILED")), sizes: []int{4, 1}},
		{name: "removed in any status", items: cat(many(2, rm, "SUCCESS"), many(2, rm, "FAILED")), sizes: []int{4}},
		{name: "blind in any status", items: cat(many(2, diff.WatchDegraded, "MIGRATING"), many(1, diff.WatchDegraded, "FAILED")), sizes: []int{3}},
		{name: "split at MaxGroupEvents", items: many(120, sc, "FAILED"), sizes: []int{50, 50, 20}},
		{name: "GroupMin 2", o: Options{GroupMin: 2}, items: many(2, sc, "FAILED"), sizes: []int{2}},
		{name: "GroupMin 5", o: Options{GroupMin: 5}, items: many(4, sc, "FAILED"), sizes: []int{1, 1, 1, 1}},
		{name: "grouping off keeps stream order", o: Options{NoGrouping: true}, items: []*item{b, e, c, d},
			want: [][]*item{{b}, {e}, {c}, {d}}},
		{
			// a1 and e share FULLMIGRATING (two: posted one by one); a3
			// cannot join the FAILED group of b, c, d, which goes before the
			// group of A's previous event (a2), so it opens its own.
			name:  "a task's events stay in order",
			items: []*item{a1, b, e, c, a2, d, a3},
			want:  [][]*item{{a1}, {e}, {b, c, d}, {a2}, {a3}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			posts := mustNew(t, nil, nil, tt.o).lanes[0].dest.plan(context.Background(), tt.items)
			got := make([]int, len(posts))
			seen := map[*item]int{}
			for i, p := range posts {
				got[i] = len(p.items)
				for _, it := range p.items {
					seen[it]++
				}
				if tt.want != nil && (i >= len(tt.want) || ids(p.items) != ids(tt.want[i])) {
					t.Errorf("message %d carries %s, want %s", i, ids(p.items), ids(tt.want[min(i, len(tt.want)-1)]))
				}
			}
			if tt.want != nil && len(posts) != len(tt.want) {
				t.Errorf("%d messages, want %d", len(posts), len(tt.want))
			}
			if tt.sizes != nil && !equalInts(got, tt.sizes) {
				t.Errorf("events per message %v, want %v", got, tt.sizes)
			}
			for _, it := range tt.items {
				if seen[it] != 1 {
					t.Errorf("event %s is in %d messages, want 1", it.env.ID, seen[it])
				}
			}
		})
	}
}

func ids(items []*item) string {
	var out []string
	for _, it := range items {
		out = append(out, it.env.ID)
	}
	return strings.Join(out, ",")
}
