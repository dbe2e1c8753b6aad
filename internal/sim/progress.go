package sim

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Progress is what a step says about a task's progress, the answer of the
// stats call. A nil field keeps the value of the previous steps (progress is
// held between steps: a stall is a step whose percent does not move).
type Progress struct {
	// Percent is full_migration_progress, 0..100.
	Percent *Curve `yaml:"percent"`
	// Lag is offset: how far the target is behind in incremental mode.
	Lag          *Curve `yaml:"lag"`
	SourceDBSize *Curve `yaml:"source_dbsize"`
	// TargetDBSize, when no step sets it, is SourceDBSize × Percent / 100.
	TargetDBSize *Curve `yaml:"target_dbsize"`
	Kbps         *Curve `yaml:"kbps"` // target_input_kbps
	Ops          *Curve `yaml:"ops"`  // target_ops
	// Migrating is is_migrating; when no step sets it, it is true in the
	// statuses of the active phase (MIGRATING, FULLMIGRATING, INCRMIGEATING).
	Migrating *bool `yaml:"migrating"`
}

// Curve is a number over time: From at the step's at, moving linearly to To
// at the end of the ramp, then held. The ramp ends after Over, or, with Over
// 0, at the next step of the task. A constant has From == To. In YAML a
// curve is a number (a constant) or {from: 10, to: 60, over: 5m}.
type Curve struct {
	From, To float64
	Over     time.Duration
}

// UnmarshalYAML reads a number or a {from, to, over} mapping; unknown keys
// are errors, as everywhere in a scenario.
func (c *Curve) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var v float64
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: want a number or {from, to, over}: %w", n.Line, err)
		}
		*c = Curve{From: v, To: v}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a number or {from, to, over}", n.Line)
	}
	var r struct {
		From *float64      `yaml:"from"`
		To   *float64      `yaml:"to"`
		Over time.Duration `yaml:"over"`
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i].Value; k {
		case "from", "to", "over":
		default:
			return fmt.Errorf("line %d: field %s not found in a curve (want from, to, over)", n.Content[i].Line, k)
		}
	}
	if err := n.Decode(&r); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	if r.From == nil || r.To == nil {
		return fmt.Errorf("line %d: a curve needs both from and to", n.Line)
	}
	*c = Curve{From: *r.From, To: *r.To, Over: r.Over}
	return nil
}

// at is the curve's value at elapsed, for a ramp that starts at begin and,
// with Over 0, ends at next (next <= begin: the task has no later step).
func (c *Curve) at(elapsed, begin, next time.Duration) float64 {
	end := begin + c.Over
	if c.Over == 0 {
		end = next
	}
	if c.From == c.To || end <= begin || elapsed >= end {
		return c.To
	}
	frac := float64(elapsed-begin) / float64(end-begin)
	return c.From + (c.To-c.From)*frac
}

// LogLine is a line of the task's log that a step writes: it appears After
// the step's at (so lines of one step can be apart), and the logs call
// serves it from then on, newest first.
type LogLine struct {
	After    time.Duration `yaml:"after"`
	Level    string        `yaml:"level"` // INFO (default), WARN, ERROR or DEBUG
	Message  string        `yaml:"message"`
	Code     string        `yaml:"code"`
	Keywords []string      `yaml:"keywords"`
}

// level is the line's level in the API's spelling.
func (l *LogLine) level() string {
	if l.Level == "" {
		return "INFO"
	}
	return strings.ToUpper(l.Level)
}

// progressState is the stats answer of a task at one moment, before
// formatting; nil means the answer leaves the field out.
type progressState struct {
	percent, lag, srcSize, dstSize, kbps, ops *float64
	migrating                                 *bool
}

// progressAt folds the progress of the steps that apply at elapsed.
func (t *simTask) progressAt(elapsed time.Duration) progressState {
	var ps progressState
	for i := range t.steps {
		s := &t.steps[i]
		if s.At > elapsed {
			break
		}
		p := s.Progress
		if p == nil {
			continue
		}
		next := s.At
		if i+1 < len(t.steps) {
			next = t.steps[i+1].At
		}
		for _, f := range []struct {
			dst **float64
			c   *Curve
		}{{&ps.percent, p.Percent}, {&ps.lag, p.Lag}, {&ps.srcSize, p.SourceDBSize},
			{&ps.dstSize, p.TargetDBSize}, {&ps.kbps, p.Kbps}, {&ps.ops, p.Ops}} {
			if f.c != nil {
				v := f.c.at(elapsed, s.At, next)
				*f.dst = &v
			}
		}
		if p.Migrating != nil {
			ps.migrating = p.Migrating
		}
	}
	return ps
}
