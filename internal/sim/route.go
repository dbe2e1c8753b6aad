package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error_code":"DCS.5000","error_msg":"Internal service error.","error_ext_msg":null}`)
	}
	writeBody(w, status, body)
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away: nothing to do
}

// intParam parses a query parameter: "" gives def; the value must be an
// integer in [lo, hi] (hi < 0: no upper bound).
func intParam(v string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", v)
	}
	if n < lo || (hi >= 0 && n > hi) {
		if hi < 0 {
			return 0, fmt.Errorf("%d is below %d", n, lo)
		}
		return 0, fmt.Errorf("%d is not in [%d, %d]", n, lo, hi)
	}
	return n, nil
}

const (
	defaultLimit = 10
	maxLimit     = 1000
)

// lookupTask finds the task a call is about; when there is none (a malformed
// id, an unknown task, one not yet created or deleted) it returns nil and
// the error answer.
func (s *Server) lookupTask(id string, elapsed time.Duration) (*simTask, answer) {
	if !validID(id) {
		return nil, answer{http.StatusBadRequest, errBadTaskID()}
	}
	t, ok := s.byID[id]
	if !ok || !t.shownAt(elapsed) {
		return nil, answer{http.StatusBadRequest, errTaskNotFound()}
	}
	return t, answer{}
}

// routeKind is which call of the DCS API a request makes (those the
// simulator answers: a task's detail, the task list, a task's stats and its
// log).
type routeKind int

const (
	routeNone routeKind = iota
	routeDetail
	routeList
	routeStats
	routeLogs
)

// The names of the calls, as a Fault's Call names them.
const (
	callDetail = "detail"
	callList   = "list"
	callStats  = "stats"
	callLogs   = "logs"
)

func (k routeKind) callName() string {
	switch k {
	case routeDetail:
		return callDetail
	case routeList:
		return callList
	case routeStats:
		return callStats
	case routeLogs:
		return callLogs
	}
	return ""
}

type route struct {
	kind    routeKind
	project string
	taskID  string
}

func parseRoute(path string) route {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return route{}
	}
	seg := strings.Split(rest, "/")
	switch {
	case len(seg) == 2 && seg[1] == "migration-tasks":
		return route{kind: routeList, project: seg[0]}
	case len(seg) == 3 && seg[1] == "migration-task":
		return route{kind: routeDetail, project: seg[0], taskID: seg[2]}
	case len(seg) == 4 && seg[1] == "migration-task" && seg[3] == "stats":
		return route{kind: routeStats, project: seg[0], taskID: seg[2]}
	case len(seg) == 4 && seg[1] == "migration-task" && seg[3] == "logs":
		return route{kind: routeLogs, project: seg[0], taskID: seg[2]}
	}
	return route{}
}

// validID reports whether s is a well-formed task or project id, the
// pattern the simulator also enforces on request paths (DCS.4070).
func validID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// pageOf reads the offset and limit of a paged call (the list, a task's
// log; limit 1..1000, default 10); bad is the answer to a malformed one.
func pageOf(q url.Values) (offset, limit int, bad *answer) {
	offset, err := intParam(q.Get("offset"), 0, 0, -1)
	if err != nil {
		return 0, 0, &answer{http.StatusBadRequest, errBadParam("Invalid offset: " + err.Error())}
	}
	limit, err = intParam(q.Get("limit"), defaultLimit, 1, maxLimit)
	if err != nil {
		return 0, 0, &answer{http.StatusBadRequest, errBadParam("Invalid limit: " + err.Error())}
	}
	return offset, limit, nil
}
