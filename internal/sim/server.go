package sim

import (
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
	Stats        int64 `json:"stats"`         // requests on a stats path, whatever the answer
	Logs         int64 `json:"logs"`          // requests on a logs path, whatever the answer
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

	byID    map[string]*simTask
	ordered []*simTask      // the list order: newest first, then by id
	changes []time.Duration // sorted times at which the set of listed tasks changes
	visible atomic.Pointer[visibleSet]

	globalFaults []Fault
	taskFaults   map[string][]Fault

	passwords []string
	duration  time.Duration

	reqPrefix string
	reqSeq    atomic.Uint64

	detailCalls, listCalls, statsCalls, logsCalls, authFailures, faults atomic.Int64
}

// visibleSet caches the listed tasks between two changes of the fleet, so
// that a list call costs O(limit), not O(fleet).
type visibleSet struct {
	epoch int
	tasks []*simTask
}

// Keys are what the server accepts: a signature made with AK/SK (and, for
// temporary credentials, their SecurityToken), or the IAM token AuthToken.
// Empty fields accept nothing; all empty, the server checks no auth.
type Keys struct {
	AK, SK, SecurityToken, AuthToken string
}
