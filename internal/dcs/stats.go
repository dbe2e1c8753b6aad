package dcs

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

const opStats = "stats"

// Stats fetches a task's progress:
// GET /v2/{project_id}/migration-task/{task_id}/stats. It is signed, paced,
// capped and classified like Show; an unknown task answers DCS.4133, which
// fails with ErrGone. A field the answer leaves out, sends as null or as ""
// is nil in Stats; a field of the wrong shape (an object where a number
// belongs, a string that holds no number, a percent outside 0..100) fails
// the call with ErrBadResponse naming the field.
func (c *Client) Stats(ctx context.Context, taskID string) (_ Stats, _ Info, err error) {
	defer c.observed(opStats, time.Now(), &err)
	if !validID(taskID) {
		return Stats{}, Info{}, apiErrorf(opStats, "", ErrRequest, "task id %q: want 1 to %d letters, digits, '-', '_', '.' or '~'", taskID, maxIDLength)
	}
	body, info, err := c.get(ctx, opStats, taskID, "migration-task/"+taskID+"/stats", nil)
	if err != nil {
		return Stats{}, info, err
	}
	s, nulls, err := decodeStats(body)
	info.Nulls = nulls
	if err != nil {
		return Stats{}, info, c.badResponse(opStats, taskID, info, fmt.Errorf("decode stats: %w", err))
	}
	return s, info, nil
}

// decodeStats reads the body of the stats call (the SDK's
// ShowMigrationTaskStatsResponse, every number a string there).
func decodeStats(body []byte) (Stats, []string, error) {
	m, err := parseObject(body)
	if err != nil {
		return Stats{}, nil, err
	}
	f := newFields(m)
	s := Stats{
		Percent:      f.optFloat("full_migration_progress", 0, 100),
		Lag:          f.optInt("offset"),
		SourceDBSize: f.optInt("source_dbsize"),
		TargetDBSize: f.optInt("target_dbsize"),
		InputKbps:    f.optFloat("target_input_kbps", 0, math.MaxFloat64),
		Ops:          f.optInt("target_ops"),
		Migrating:    f.optBool("is_migrating"),
	}
	if err := f.Err(); err != nil {
		return Stats{}, nil, err
	}
	return s, *f.nulls, nil
}

// numText returns the text of a field documented as a numeric string: a
// JSON number, or a string holding one. ok is false for a missing field,
// null or a blank string (no value, not an error); a non-scalar is an error.
func (f *fields) numText(key string) (string, bool) {
	v := f.get(key)
	s, scalar := scalarText(v)
	if !scalar {
		f.fail(key, "number", v)
		return "", false
	}
	if _, isBool := v.(bool); isBool {
		f.fail(key, "number", v)
		return "", false
	}
	s = strings.TrimSpace(s)
	return s, s != ""
}

// notNumber records a string that holds no usable number; the error names
// the field, never the value.
func (f *fields) notNumber(key, want string) {
	f.setErr(&decodeError{Path: join(f.path, key), Want: want, Got: "a string that is not one"})
}

// optFloat reads a non-negative number in [lo, hi]; a percent may carry a
// trailing "%".
func (f *fields) optFloat(key string, lo, hi float64) *float64 {
	s, ok := f.numText(key)
	if !ok {
		return nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		f.notNumber(key, "number")
		return nil
	}
	if v < lo || v > hi {
		f.setErr(&decodeError{Path: join(f.path, key), Want: rangeText(lo, hi), Got: "a number out of range"})
		return nil
	}
	return &v
}

func rangeText(lo, hi float64) string {
	if hi == math.MaxFloat64 {
		return "a number >= " + strconv.FormatFloat(lo, 'f', -1, 64)
	}
	return "a number in " + strconv.FormatFloat(lo, 'f', -1, 64) + ".." + strconv.FormatFloat(hi, 'f', -1, 64)
}

// optInt reads a non-negative integer. A number with a fraction (an
// average the API rounded differently) is rounded to the nearest integer.
func (f *fields) optInt(key string) *int64 {
	s, ok := f.numText(key)
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		v, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) >= 1<<63 {
			f.notNumber(key, "integer")
			return nil
		}
		n = int64(math.Round(v))
	}
	if n < 0 {
		f.setErr(&decodeError{Path: join(f.path, key), Want: "an integer >= 0", Got: "a negative number"})
		return nil
	}
	return &n
}

// optBool reads a boolean as fields.boolean does, but a missing field,
// null or "" gives nil rather than false.
func (f *fields) optBool(key string) *bool {
	v := f.get(key)
	if v == nil {
		return nil
	}
	if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
		return nil
	}
	b := f.boolean(key)
	if f.Err() != nil {
		return nil
	}
	return &b
}
