package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The fields a nulls fault without Fields sets to null: the optional ones a
// tolerant client must take as empty. Core identity (task_id, status) stays,
// so the answer is still about a task; name those in Fields to null them.
func defaultNullDetail() []string {
	return []string{
		"description", "task_status", "migration_method", "ecs_tenant_private_ip",
		"released_at", "backup_files", "bandwidth_limit_mb", "supported_features",
		"source_instance.task_status", "target_instance.task_status",
		"source_instance.db", "target_instance.db",
	}
}

func defaultNullRow() []string {
	return []string{
		"description", "error_message", "released_at", "migration_method",
		"data_source", "source_instance_status", "target_instance_status",
	}
}

// rewrite applies the faults that change a successful body (malformed,
// oversized, numbers, nulls) and reports whether it did. Other kinds, and a
// body it cannot decode (never: it is our own JSON), leave the body as is.
func rewrite(f *Fault, kind routeKind, body []byte) ([]byte, bool) {
	if f.Kind == FaultMalformed {
		// Cut inside the object: valid JSON up to there, then nothing.
		return body[:len(body)/2], true
	}
	switch f.Kind {
	case FaultEmptyList, FaultBareList, FaultShortList:
		return rewriteList(f.Kind, kind, body)
	case FaultOversized, FaultNumbers, FaultNulls:
	default:
		return body, false
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return body, false
	}
	if kind == routeStats || kind == routeLogs {
		return rewriteProgress(f, kind, m, body)
	}
	rows := objects(m, kind, routeList, "migration_tasks")
	switch f.Kind {
	case FaultOversized:
		// Padding inside a string keeps the body valid JSON, so only a size
		// cap, not the parser, can catch it.
		pad := strings.Repeat("x", f.Bytes)
		if kind == routeDetail {
			m["description"] = pad
		} else if len(rows) > 0 {
			rows[0]["description"] = pad
		} else {
			return append([]byte(strings.Repeat(" ", f.Bytes)), body...), true
		}
	case FaultNumbers:
		if kind == routeDetail {
			numbersInDetail(m)
		}
	case FaultNulls:
		nullFields(f.Fields, kind, m, rows)
	}
	out, err := json.Marshal(m)
	if err != nil {
		return body, false
	}
	return out, true
}

// rewriteList applies the faults that make a list answer unusable or
// empty; a detail answer is left as it is.
func rewriteList(fk FaultKind, kind routeKind, body []byte) ([]byte, bool) {
	if kind != routeList {
		return body, false
	}
	switch fk {
	case FaultEmptyList:
		return []byte(`{"count":0,"migration_tasks":[]}`), true
	case FaultBareList:
		return []byte(`{}`), true
	}
	var m map[string]json.RawMessage
	var rows []json.RawMessage
	if json.Unmarshal(body, &m) != nil || json.Unmarshal(m["migration_tasks"], &rows) != nil || len(rows) == 0 {
		return body, false
	}
	m["migration_tasks"], _ = json.Marshal(rows[:len(rows)-1])
	out, err := json.Marshal(m)
	if err != nil {
		return body, false
	}
	return out, true
}

// objects returns the objects of the array under key in m when the answer
// is of kind want (a list's rows, a logs answer's lines), nil otherwise.
func objects(m map[string]any, kind, want routeKind, key string) []map[string]any {
	if kind != want {
		return nil
	}
	arr, _ := m[key].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, o := range arr {
		if obj, ok := o.(map[string]any); ok {
			out = append(out, obj)
		}
	}
	return out
}

// numbersInDetail turns the numeric strings the document types as String
// into JSON numbers, as some API versions send them.
func numbersInDetail(m map[string]any) {
	toNumber(m, "bandwidth_limit_mb")
	for _, k := range []string{"source_instance", "target_instance"} {
		if in, ok := m[k].(map[string]any); ok {
			toNumber(in, "port")
			toNumber(in, "db")
		}
	}
	if bf, ok := m["backup_files"].(map[string]any); ok {
		files, _ := bf["files"].([]any)
		for _, f := range files {
			if fo, ok := f.(map[string]any); ok {
				toNumber(fo, "size")
			}
		}
	}
}

func toNumber(m map[string]any, key string) {
	s, ok := m[key].(string)
	if !ok {
		return
	}
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		m[key] = json.Number(s)
	}
}

// nullFields sets the named fields to null: in the detail object, or in
// every row of a list (a name of the list object itself, count or
// migration_tasks, nulls that).
func nullFields(fields []string, kind routeKind, m map[string]any, rows []map[string]any) {
	if kind == routeDetail {
		if len(fields) == 0 {
			fields = defaultNullDetail()
		}
		for _, f := range fields {
			setNull(m, f)
		}
		return
	}
	if len(fields) == 0 {
		fields = defaultNullRow()
	}
	for _, f := range fields {
		if f == "count" || f == "migration_tasks" {
			m[f] = nil
			continue
		}
		for _, r := range rows {
			setNull(r, f)
		}
	}
}

// setNull sets key, or parent.child when the parent is an object, to null.
func setNull(m map[string]any, path string) {
	parent, child, nested := strings.Cut(path, ".")
	if !nested {
		m[path] = nil
		return
	}
	if o, ok := m[parent].(map[string]any); ok {
		o[child] = nil
	}
}

// faultFor returns the first fault active at elapsed for this call: the
// task's own faults first, then those on every call; a fault that names
// another kind of call (Call) does not apply.
func (s *Server) faultFor(rt route, elapsed time.Duration) *Fault {
	hits := func(f *Fault) bool {
		return f.active(elapsed) && (f.Call == "" || f.Call == rt.kind.callName())
	}
	if rt.taskID != "" {
		for i := range s.taskFaults[rt.taskID] {
			if f := &s.taskFaults[rt.taskID][i]; hits(f) {
				return f
			}
		}
	}
	for i := range s.globalFaults {
		if f := &s.globalFaults[i]; hits(f) {
			return f
		}
	}
	return nil
}

// serveFault answers the faults that replace or delay the answer. It
// reports whether the request is done (answered, or abandoned by the client).
func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f *Fault, reqID string) bool {
	switch f.Kind {
	case FaultServerError:
		s.faults.Add(1)
		writeJSON(w, http.StatusInternalServerError, errInternal())
		return true
	case FaultThrottle:
		s.faults.Add(1)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusTooManyRequests, gatewayError{ErrorCode: "APIGW.0308", ErrorMsg: msgThrottled, RequestID: reqID})
		return true
	case FaultAuth:
		s.faults.Add(1)
		writeJSON(w, http.StatusUnauthorized, gatewayError{ErrorCode: "APIGW.0301", ErrorMsg: msgAuthFailed, RequestID: reqID})
		return true
	case FaultSlow:
		s.faults.Add(1)
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
			return false
		case <-r.Context().Done():
			// The client gave up (nobody reads an answer), or Serve is
			// shutting down: say so rather than drop the connection.
			if errors.Is(context.Cause(r.Context()), errShuttingDown) {
				writeJSON(w, http.StatusServiceUnavailable, errUnavailable())
			}
			return true
		}
	}
	return false
}

// The fields a nulls fault without Fields sets to null in a stats answer
// and in each line of a logs answer: the ones a watcher can do without.
func defaultNullStats() []string {
	return []string{"source_dbsize", "target_dbsize", "target_input_kbps", "target_ops"}
}

func defaultNullLog() []string { return []string{"log_code", "keyword"} }

// rewriteProgress applies the faults that change a successful stats or
// logs answer m (body as sent): oversized pads the first log message, or
// the body with leading blanks; numbers turns the stats' numeric strings
// into JSON numbers (a logs answer has none to turn); nulls sets Fields
// (or a default set) to null, in each log line unless the field is
// log_num or migration_logs.
func rewriteProgress(f *Fault, kind routeKind, m map[string]any, body []byte) ([]byte, bool) {
	lines := objects(m, kind, routeLogs, "migration_logs")
	switch f.Kind {
	case FaultOversized:
		if len(lines) == 0 {
			return append([]byte(strings.Repeat(" ", f.Bytes)), body...), true
		}
		lines[0]["message"] = strings.Repeat("x", f.Bytes)
	case FaultNumbers:
		if kind != routeStats {
			return body, false
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				if _, err := strconv.ParseFloat(s, 64); err == nil {
					m[k] = json.Number(s)
				}
			}
		}
	case FaultNulls:
		fields := f.Fields
		if kind == routeStats {
			if len(fields) == 0 {
				fields = defaultNullStats()
			}
			for _, name := range fields {
				setNull(m, name)
			}
			break
		}
		if len(fields) == 0 {
			fields = defaultNullLog()
		}
		for _, name := range fields {
			if name == "log_num" || name == "migration_logs" {
				m[name] = nil
				continue
			}
			for _, l := range lines {
				setNull(l, name)
			}
		}
	default:
		return body, false
	}
	out, err := json.Marshal(m)
	if err != nil {
		return body, false
	}
	return out, true
}
