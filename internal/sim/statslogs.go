package sim

import (
	"cmp"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// logTime is the log API's time format (the SDK: 2023-05-15T09:11:25.449Z).
const logTime = "2006-01-02T15:04:05.000Z07:00"

// statsWire is the stats answer with the SDK's names
// (ShowMigrationTaskStatsResponse): every number a string, a field the
// scenario never set left out.
type statsWire struct {
	FullMigrationProgress *string `json:"full_migration_progress,omitempty"`
	Offset                *string `json:"offset,omitempty"`
	SourceDBSize          *string `json:"source_dbsize,omitempty"`
	TargetDBSize          *string `json:"target_dbsize,omitempty"`
	TargetInputKbps       *string `json:"target_input_kbps,omitempty"`
	TargetOps             *string `json:"target_ops,omitempty"`
	IsMigrating           bool    `json:"is_migrating"`
}

// logsWire is the logs answer (ListMigrationTaskLogsResponse): log_num is
// the number of lines the query matches, migration_logs one page of them.
type logsWire struct {
	LogNum        int       `json:"log_num"`
	MigrationLogs []logWire `json:"migration_logs"`
}

// logWire is one MigrationLog.
type logWire struct {
	CreatedAt string   `json:"created_at"`
	LogLevel  string   `json:"log_level"`
	Message   string   `json:"message"`
	LogCode   string   `json:"log_code,omitempty"`
	Keyword   []string `json:"keyword,omitempty"`
}

func (s *Server) answerStats(id string, elapsed time.Duration) answer {
	t, bad := s.lookupTask(id, elapsed)
	if t == nil {
		return bad
	}
	return answer{http.StatusOK, t.statsAt(elapsed)}
}

// statsAt renders the progress of t at elapsed.
func (t *simTask) statsAt(elapsed time.Duration) statsWire {
	ps := t.progressAt(elapsed)
	if ps.dstSize == nil && ps.srcSize != nil && ps.percent != nil {
		v := math.Round(*ps.srcSize * *ps.percent / 100)
		ps.dstSize = &v
	}
	w := statsWire{
		FullMigrationProgress: decimal(ps.percent),
		Offset:                integer(ps.lag),
		SourceDBSize:          integer(ps.srcSize),
		TargetDBSize:          integer(ps.dstSize),
		TargetInputKbps:       decimal(ps.kbps),
		TargetOps:             integer(ps.ops),
	}
	if ps.migrating != nil {
		w.IsMigrating = *ps.migrating
	} else {
		switch t.stateAt(elapsed).status {
		case "MIGRATING", "FULLMIGRATING", "INCRMIGEATING", "INCRMIGRATING":
			w.IsMigrating = true
		}
	}
	return w
}

// decimal renders v with at most two decimals, as the console shows a
// percent or a rate.
func decimal(v *float64) *string {
	if v == nil {
		return nil
	}
	s := strconv.FormatFloat(math.Round(*v*100)/100, 'f', -1, 64)
	return &s
}

func integer(v *float64) *string {
	if v == nil {
		return nil
	}
	s := strconv.FormatInt(int64(math.Round(*v)), 10)
	return &s
}

// loggedLine is a log line with its place in time.
type loggedLine struct {
	at   time.Duration // step at + after
	seq  int           // order of writing, for lines at the same instant
	line *LogLine
}

// logs answers the logs call: the lines written so far, newest first (the
// order the console shows; the API documents none), filtered by log_level
// (exact, case-insensitive; "" = all) and paged by offset and limit as the
// list is (limit 1..1000, default 10). log_num counts every matching line.
func (s *Server) answerLogs(id string, r *http.Request, elapsed time.Duration) answer {
	t, missing := s.lookupTask(id, elapsed)
	if t == nil {
		return missing
	}
	q := r.URL.Query()
	offset, limit, bad := pageOf(q)
	if bad != nil {
		return *bad
	}
	level := strings.ToUpper(strings.TrimSpace(q.Get("log_level")))
	lines := t.logsAt(elapsed, level)
	out := logsWire{LogNum: len(lines), MigrationLogs: []logWire{}}
	if offset < len(lines) {
		for _, l := range lines[offset:min(offset+limit, len(lines))] {
			out.MigrationLogs = append(out.MigrationLogs, logWire{
				CreatedAt: s.start.Add(l.at).UTC().Format(logTime),
				LogLevel:  l.line.level(),
				Message:   l.line.Message,
				LogCode:   l.line.Code,
				Keyword:   l.line.Keywords,
			})
		}
	}
	return answer{http.StatusOK, out}
}

// logsAt returns the lines of t written by elapsed at level ("" = all),
// newest first.
func (t *simTask) logsAt(elapsed time.Duration, level string) []loggedLine {
	var out []loggedLine
	seq := 0
	for i := range t.steps {
		st := &t.steps[i]
		if st.At > elapsed {
			break
		}
		for k := range st.Logs {
			l := &st.Logs[k]
			seq++
			if st.At+l.After > elapsed || (level != "" && l.level() != level) {
				continue
			}
			out = append(out, loggedLine{at: st.At + l.After, seq: seq, line: l})
		}
	}
	slices.SortFunc(out, func(a, b loggedLine) int {
		return cmp.Or(cmpDuration(b.at, a.at), cmp.Compare(b.seq, a.seq))
	})
	return out
}
