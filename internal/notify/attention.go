package notify

import (
	"strconv"
	"strings"
	"time"

	"github.com/dcs-watcher/watcher/internal/diff"
)

// attentionWhat says in a few words what a stalled or resumed event is
// about: "full sync stalled at 63%", "incremental lag growing: 1000 ->
// 2000", "in RUNNING longer than 1h", "full sync progressing again", ...
// esc applies to the status, which came from the API.
func (d Data) attentionWhat(esc func(string) string) string {
	a := d.Attention
	if a == nil {
		return string(d.Kind)
	}
	if d.Kind == diff.Stalled {
		switch a.Condition {
		case diff.ProgressStalled:
			if a.Percent != nil {
				return "full sync stalled at " + strconv.FormatFloat(*a.Percent, 'f', -1, 64) + "%"
			}
			return "full sync stalled"
		case diff.LagHigh:
			return "incremental lag high: " + num(a.Lag) + " (max " + num(a.MaxLag) + ")"
		case diff.LagGrowing:
			return "incremental lag growing: " + num(a.LagFrom) + " -> " + num(a.Lag)
		case diff.StatusTooLong:
			return "in " + esc(a.Status) + " longer than " + ShortDuration(seconds(a.AllowedSeconds))
		}
		return "needs a look: " + esc(a.Condition)
	}
	switch a.ClearedBy {
	case diff.ClearedRemoved:
		return ConditionLabel(a.Condition, esc(a.Status)) + " ended: the task is gone"
	case diff.ClearedStatusChanged:
		return ConditionLabel(a.Condition, esc(a.Status)) + " ended: the status changed"
	}
	switch a.Condition {
	case diff.ProgressStalled:
		return "full sync progressing again"
	case diff.LagHigh:
		return "incremental lag back down: " + num(a.ClearedLag)
	case diff.LagGrowing:
		return "incremental lag falling again: " + num(a.ClearedLag)
	}
	return ConditionLabel(a.Condition, esc(a.Status)) + " ended"
}

// ConditionLabel names a condition for people: "stalled full sync", "high
// lag", "growing lag", "long time in RUNNING" (status already escaped as
// the caller needs).
func ConditionLabel(condition, status string) string {
	switch condition {
	case diff.ProgressStalled:
		return "stalled full sync"
	case diff.LagHigh:
		return "high lag"
	case diff.LagGrowing:
		return "growing lag"
	case diff.StatusTooLong:
		if status == "" {
			return "long time in one status"
		}
		return "long time in " + status
	}
	return condition
}

// ShortDuration writes d without its zero tail: "1h", "15m", "1h30m",
// "45s".
func ShortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func num(p *int64) string {
	if p == nil {
		return "?"
	}
	return strconv.FormatInt(*p, 10)
}
