package dcs

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	opLogs = "logs"

	// MaxLogLimit is the largest page Logs asks for. The API documents no
	// maximum (unverified); the list call's is taken.
	MaxLogLimit = 1000
	maxLevelLen = 16
)

// Logs fetches lines of a task's log:
// GET /v2/{project_id}/migration-task/{task_id}/logs?offset=&limit=&log_level=.
// It returns the lines in the order the API sent them (newest first, as the
// console shows them; unverified) and log_num, the number of lines the
// query matches in all (-1 when the answer does not say). It is signed,
// paced, capped and classified like Show.
//
// Every message, code and keyword passes through ScrubSecrets: a password
// or key a log line quotes never leaves this function. A missing or null
// migration_logs is no lines; created_at is kept raw and read into Time
// when it is RFC 3339 or one of the API's zone-less forms (taken as UTC).
func (c *Client) Logs(ctx context.Context, taskID string, q LogQuery) (_ []LogEntry, _ int, _ Info, err error) {
	defer c.observed(opLogs, time.Now(), &err)
	if !validID(taskID) {
		return nil, 0, Info{}, apiErrorf(opLogs, "", ErrRequest, "task id %q: want 1 to %d letters, digits, '-', '_', '.' or '~'", taskID, maxIDLength)
	}
	v, err := q.values()
	if err != nil {
		return nil, 0, Info{}, apiErrorf(opLogs, taskID, ErrRequest, "%w", err)
	}
	body, info, err := c.get(ctx, opLogs, taskID, "migration-task/"+taskID+"/logs", v)
	if err != nil {
		return nil, 0, info, err
	}
	entries, n, err := decodeLogs(body)
	if err != nil {
		return nil, 0, info, c.badResponse(opLogs, taskID, info, fmt.Errorf("decode logs: %w", err))
	}
	return entries, n, info, nil
}

// values checks q and renders it as the query string.
func (q LogQuery) values() (url.Values, error) {
	if q.Offset < 0 || q.Limit < 0 || q.Limit > MaxLogLimit {
		return nil, fmt.Errorf("log query offset %d, limit %d: want offset >= 0 and limit 0..%d", q.Offset, q.Limit, MaxLogLimit)
	}
	level := strings.ToUpper(strings.TrimSpace(q.Level))
	if len(level) > maxLevelLen || strings.IndexFunc(level, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return nil, fmt.Errorf("log query level %q: want a word such as INFO or ERROR", q.Level)
	}
	v := url.Values{}
	v.Set("offset", strconv.Itoa(q.Offset))
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if level != "" {
		v.Set("log_level", level)
	}
	return v, nil
}

// decodeLogs reads the body of the logs call (the SDK's
// ListMigrationTaskLogsResponse: log_num an integer, migration_logs an
// array of MigrationLog).
func decodeLogs(body []byte) ([]LogEntry, int, error) {
	m, err := parseObject(body)
	if err != nil {
		return nil, 0, err
	}
	f := newFields(m)
	n := -1
	if p := f.optInt("log_num"); p != nil {
		n = int(*p)
	}
	arr := f.array("migration_logs")
	out := make([]LogEntry, 0, len(arr))
	for i, v := range arr {
		ef := f.elem("migration_logs", i, v)
		if ef == nil {
			break
		}
		e := LogEntry{
			CreatedAt: ef.str("created_at"),
			Level:     strings.ToUpper(strings.TrimSpace(ef.str("log_level"))),
			Message:   ScrubSecrets(ef.str("message")),
			Code:      ScrubSecrets(ef.str("log_code")),
			Keywords:  ef.keywords("keyword"),
		}
		e.Time, _ = parseTime(e.CreatedAt)
		out = append(out, e)
	}
	if err := f.Err(); err != nil {
		return nil, 0, err
	}
	return out, n, nil
}

// keywords reads keyword, an array of strings in the SDK; a lone string is
// taken as one keyword. Each is scrubbed.
func (f *fields) keywords(key string) []string {
	var kw []string
	if s, ok := f.m[key].(string); ok {
		if s != "" {
			kw = []string{s}
		}
	} else {
		kw = f.strList(key)
	}
	for i := range kw {
		kw[i] = ScrubSecrets(kw[i])
	}
	return kw
}
