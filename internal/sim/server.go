package sim

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Options configure a Server; the zero value serves without auth on the
// real clock, the scenario starting when New is called.
type Options struct {
	// AK and SK, when both set, make every request prove an SDK-HMAC-SHA256
	// signature made with them; a wrong or missing one answers 401 APIGW.0301.
	AK, SK string
	// SecurityToken, with AK and SK, marks them temporary: a signed request
	// must also carry it in X-Security-Token.
	SecurityToken string
	// AuthToken, when set, is an IAM token accepted in X-Auth-Token instead
	// of a signature; any other token answers 401 APIGW.0301.
	AuthToken string
	// Clock is the server's time (default time.Now). It drives the scenario
	// (elapsed = Clock() - Start) and the signature's clock-skew check.
	Clock func() time.Time
	// Start is the scenario's time zero (default: Clock() when New is called).
	Start time.Time
}

// Calls counts what a Server has answered, for benchmarks and tests; GET
// CallsPath serves it as JSON.
type Calls struct {
	Detail       int64 `json:"detail"`        // requests on the detail path, whatever the answer
	List         int64 `json:"list"`          // requests on the list path, whatever the answer
	AuthFailures int64 `json:"auth_failures"` // requests refused because the signature did not verify
	Faults       int64 `json:"faults"`        // answers made or changed by an injected fault
}

// CallsPath serves Calls as JSON, without auth and without being counted,
// so that a benchmark in another process can read the API calls a watcher
// made. It is outside /v2/, where the DCS API lives.
const CallsPath = "/_sim/calls"

// Server plays a Scenario over HTTP. It is safe for concurrent use.
type Server struct {
	projectID string
	keys      atomic.Pointer[Keys]
	clock     func() time.Time
	start     time.Time

	byID    map[string]*task
	ordered []*task         // the list order: newest first, then by id
	changes []time.Duration // sorted times at which the set of listed tasks changes
	visible atomic.Pointer[visibleSet]

	globalFaults []Fault
	taskFaults   map[string][]Fault

	passwords []string
	duration  time.Duration

	reqPrefix string
	reqSeq    atomic.Uint64

	detailCalls, listCalls, authFailures, faults atomic.Int64
}

// visibleSet caches the listed tasks between two changes of the fleet, so
// that a list call costs O(limit), not O(fleet).
type visibleSet struct {
	epoch int
	tasks []*task
}

// New prepares a Server for sc. It does not modify sc, which must not change
// afterwards. New does not validate: call Validate first on a scenario built
// in Go (ParseScenario already does); on an invalid one New still returns a
// working server (later duplicates of an id are ignored, steps are sorted).
func New(sc *Scenario, o Options) *Server {
	s := &Server{
		projectID:  sc.ProjectID,
		clock:      o.Clock,
		start:      o.Start,
		byID:       make(map[string]*task, len(sc.Tasks)),
		taskFaults: make(map[string][]Fault),
		reqPrefix:  randomHex(8),
	}
	s.keys.Store(&Keys{AK: o.AK, SK: o.SK, SecurityToken: o.SecurityToken, AuthToken: o.AuthToken})
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.start.IsZero() {
		s.start = s.clock()
	}
	pw := make(map[string]bool)
	for i := range sc.Tasks {
		sp := &sc.Tasks[i]
		if _, dup := s.byID[sp.ID]; dup {
			continue
		}
		t := newTask(sp, s.start)
		s.byID[sp.ID] = t
		s.ordered = append(s.ordered, t)
		s.changes = append(s.changes, t.appears)
		s.duration = max(s.duration, t.appears)
		if t.hasRemove {
			s.changes = append(s.changes, t.removed)
			s.duration = max(s.duration, t.removed)
		}
		if n := len(t.steps); n > 0 {
			s.duration = max(s.duration, t.steps[n-1].At)
		}
		for _, in := range []*InstanceSpec{sp.Source, sp.Target} {
			if in != nil && in.Password != "" {
				pw[in.Password] = true
			}
		}
	}
	slices.SortFunc(s.ordered, func(a, b *task) int {
		if c := cmpDuration(b.appears, a.appears); c != 0 {
			return c
		}
		return cmp.Compare(a.spec.ID, b.spec.ID)
	})
	slices.Sort(s.changes)
	s.changes = slices.Compact(s.changes)
	for _, f := range sc.Faults {
		if f.Task == "" {
			s.globalFaults = append(s.globalFaults, f)
		} else {
			s.taskFaults[f.Task] = append(s.taskFaults[f.Task], f)
		}
		s.duration = max(s.duration, f.At+f.For)
	}
	for p := range pw {
		s.passwords = append(s.passwords, p)
	}
	slices.Sort(s.passwords)
	return s
}

// ProjectID is the project the server answers for.
func (s *Server) ProjectID() string { return s.projectID }

// Start is the scenario's time zero.
func (s *Server) Start() time.Time { return s.start }

// Duration is the offset of the scenario's last event (step, appearance,
// removal or end of a fault): after it nothing changes any more.
func (s *Server) Duration() time.Duration { return s.duration }

// Passwords returns every Redis password of the scenario, sorted, so that
// leak tests can scan outputs for them.
func (s *Server) Passwords() []string { return slices.Clone(s.passwords) }

// Calls returns the counters so far.
func (s *Server) Calls() Calls {
	return Calls{
		Detail:       s.detailCalls.Load(),
		List:         s.listCalls.Load(),
		AuthFailures: s.authFailures.Load(),
		Faults:       s.faults.Load(),
	}
}

// Serve answers on ln until ctx is done, then shuts down gracefully: it
// stops accepting, cancels the requests in flight (a slow fault is waiting
// on its request's context) and waits up to 5 s for them to finish. It
// returns nil after a shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	reqCtx, cancelReqs := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelReqs(errShuttingDown)
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("sim: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	cancelReqs(errShuttingDown)
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("sim: shut down server on %s: %w", ln.Addr(), err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sim: serve on %s: %w", ln.Addr(), err)
	}
	return nil
}

// errShuttingDown is the cause with which Serve cancels requests in flight.
var errShuttingDown = errors.New("sim: server shutting down")

type routeKind int

const (
	routeNone routeKind = iota
	routeDetail
	routeList
)

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

// faultFor returns the first fault active at elapsed for this call: the
// task's own faults first, then those on every call.
func (s *Server) faultFor(rt route, elapsed time.Duration) *Fault {
	if rt.kind == routeDetail {
		for i := range s.taskFaults[rt.taskID] {
			if f := &s.taskFaults[rt.taskID][i]; f.active(elapsed) {
				return f
			}
		}
	}
	for i := range s.globalFaults {
		if f := &s.globalFaults[i]; f.active(elapsed) {
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

// answer is the fault-free answer to a routed GET.
func (s *Server) answer(rt route, r *http.Request, elapsed time.Duration) answer {
	if rt.project != s.projectID {
		return answer{http.StatusBadRequest, errBadParam("Invalid project ID: " + strconv.Quote(rt.project) + " is not a project of this account.")}
	}
	if rt.kind == routeDetail {
		return s.detail(rt.taskID, elapsed)
	}
	return s.list(r, elapsed)
}

func (s *Server) detail(id string, elapsed time.Duration) answer {
	if !validID(id) {
		return answer{http.StatusBadRequest, errBadTaskID()}
	}
	t, ok := s.byID[id]
	if !ok || !t.visible(elapsed) {
		return answer{http.StatusBadRequest, errTaskNotFound()}
	}
	return answer{http.StatusOK, t.render(elapsed, s.start)}
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
