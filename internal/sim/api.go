package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

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
	a := s.respond(rt, r, elapsed)
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
func (s *Server) respond(rt route, r *http.Request, elapsed time.Duration) answer {
	if rt.project != s.projectID {
		return answer{http.StatusBadRequest, errBadParam("Invalid project ID: " + strconv.Quote(rt.project) + " is not a project of this account.")}
	}
	switch rt.kind {
	case routeDetail:
		return s.answerDetail(rt.taskID, elapsed)
	case routeStats:
		return s.answerStats(rt.taskID, elapsed)
	case routeLogs:
		return s.answerLogs(rt.taskID, r, elapsed)
	}
	return s.answerList(r, elapsed)
}

func (s *Server) answerDetail(id string, elapsed time.Duration) answer {
	t, bad := s.lookupTask(id, elapsed)
	if t == nil {
		return bad
	}
	return answer{http.StatusOK, t.render(elapsed, s.start)}
}

func (s *Server) answerList(r *http.Request, elapsed time.Duration) answer {
	q := r.URL.Query()
	offset, limit, bad := pageOf(q)
	if bad != nil {
		return *bad
	}
	tasks := s.visibleAt(elapsed)
	if name := q.Get("name"); name != "" {
		var matched []*simTask
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

// visibleAt returns the listed tasks at elapsed, in list order. The set only
// changes at the times in s.changes, so it is computed once per interval.
func (s *Server) visibleAt(elapsed time.Duration) []*simTask {
	epoch := sort.Search(len(s.changes), func(i int) bool { return s.changes[i] > elapsed })
	if v := s.visible.Load(); v != nil && v.epoch == epoch {
		return v.tasks
	}
	out := make([]*simTask, 0, len(s.ordered))
	for _, t := range s.ordered {
		if t.shownAt(elapsed) {
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
