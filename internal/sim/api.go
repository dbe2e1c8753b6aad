package sim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

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

func (k routeKind) call() string {
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

// ServeHTTP implements http.Handler: route, auth, faults, then the answer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == CallsPath && r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, s.Calls())
		return
	}
	if r.URL.Path == TasksPath && r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, s.Truth())
		return
	}
	reqID := s.nextRequestID()
	w.Header().Set("X-Request-Id", reqID)
	now := s.clock()
	elapsed := now.Sub(s.start)

	rt := parseRoute(r.URL.Path)
	switch rt.kind {
	case routeNone:
		writeJSON(w, http.StatusNotFound, errNotFound(r.URL.Path))
		return
	case routeDetail:
		s.detailCalls.Add(1)
	case routeList:
		s.listCalls.Add(1)
	case routeStats:
		s.statsCalls.Add(1)
	case routeLogs:
		s.logsCalls.Add(1)
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, errMethod(r.Method))
		return
	}
	if k := s.keys.Load(); k.checks() {
		if err := k.verify(r, now); err != nil {
			s.authFailures.Add(1)
			writeJSON(w, http.StatusUnauthorized, gatewayError{ErrorCode: "APIGW.0301", ErrorMsg: msgAuthFailed, RequestID: reqID})
			return
		}
	}

	f := s.faultFor(rt, elapsed)
	if f != nil {
		if done := s.serveFault(w, r, f, reqID); done {
			return
		}
	}
	a := s.answer(rt, r, elapsed)
	body, err := json.Marshal(a.body)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errInternal())
		return
	}
	if f != nil && a.status == http.StatusOK {
		if b, changed := rewrite(f, rt.kind, body); changed {
			body = b
			s.faults.Add(1)
		}
	}
	writeBody(w, a.status, body)
}

// answer is the fault-free answer to a routed GET.
func (s *Server) answer(rt route, r *http.Request, elapsed time.Duration) answer {
	if rt.project != s.projectID {
		return answer{http.StatusBadRequest, errBadParam("Invalid project ID: " + strconv.Quote(rt.project) + " is not a project of this account.")}
	}
	switch rt.kind {
	case routeDetail:
		return s.detail(rt.taskID, elapsed)
	case routeStats:
		return s.stats(rt.taskID, elapsed)
	case routeLogs:
		return s.logs(rt.taskID, r, elapsed)
	}
	return s.list(r, elapsed)
}

func (s *Server) detail(id string, elapsed time.Duration) answer {
	t, bad := s.lookup(id, elapsed)
	if t == nil {
		return bad
	}
	return answer{http.StatusOK, t.render(elapsed, s.start)}
}

// lookup finds the task a call is about; when there is none (a malformed
// id, an unknown task, one not yet created or deleted) it returns nil and
// the error answer.
func (s *Server) lookup(id string, elapsed time.Duration) (*task, answer) {
	if !validID(id) {
		return nil, answer{http.StatusBadRequest, errBadTaskID()}
	}
	t, ok := s.byID[id]
	if !ok || !t.visible(elapsed) {
		return nil, answer{http.StatusBadRequest, errTaskNotFound()}
	}
	return t, answer{}
}

const (
	defaultLimit = 10
	maxLimit     = 1000
)

func (s *Server) list(r *http.Request, elapsed time.Duration) answer {
	q := r.URL.Query()
	offset, err := intParam(q.Get("offset"), 0, 0, -1)
	if err != nil {
		return answer{http.StatusBadRequest, errBadParam("Invalid offset: " + err.Error())}
	}
	limit, err := intParam(q.Get("limit"), defaultLimit, 1, maxLimit)
	if err != nil {
		return answer{http.StatusBadRequest, errBadParam("Invalid limit: " + err.Error())}
	}
	tasks := s.visibleAt(elapsed)
	if name := q.Get("name"); name != "" {
		var matched []*task
		for _, t := range tasks {
			if strings.Contains(t.spec.Name, name) {
				matched = append(matched, t)
			}
		}
		tasks = matched
	}
	out := listWire{Count: len(tasks), MigrationTasks: []rowWire{}}
	if offset < len(tasks) {
		for _, t := range tasks[offset:min(offset+limit, len(tasks))] {
			out.MigrationTasks = append(out.MigrationTasks, t.row(elapsed, s.start))
		}
	}
	return answer{http.StatusOK, out}
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

// visibleAt returns the listed tasks at elapsed, in list order. The set only
// changes at the times in s.changes, so it is computed once per interval.
func (s *Server) visibleAt(elapsed time.Duration) []*task {
	epoch := sort.Search(len(s.changes), func(i int) bool { return s.changes[i] > elapsed })
	if v := s.visible.Load(); v != nil && v.epoch == epoch {
		return v.tasks
	}
	out := make([]*task, 0, len(s.ordered))
	for _, t := range s.ordered {
		if t.visible(elapsed) {
			out = append(out, t)
		}
	}
	// Concurrent callers may compute the same set twice; both are right.
	s.visible.Store(&visibleSet{epoch: epoch, tasks: out})
	return out
}

func (s *Server) nextRequestID() string {
	return s.reqPrefix + fmt.Sprintf("%016x", s.reqSeq.Add(1))
}

// randomHex returns n random bytes in hex: the request-id prefix that keeps
// ids unique across servers and restarts.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

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
