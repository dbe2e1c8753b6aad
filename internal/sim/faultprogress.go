package sim

import (
	"encoding/json"
	"strconv"
	"strings"
)

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
	lines := logLines(m, kind)
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

// logLines returns the line objects of a logs answer (nil for stats).
func logLines(m map[string]any, kind routeKind) []map[string]any {
	if kind != routeLogs {
		return nil
	}
	arr, _ := m["migration_logs"].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, l := range arr {
		if o, ok := l.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}
