// Package sim is a simulator of the Huawei Cloud DCS migration-task API: an
// http.Handler that answers the detail call (GET /v2/{project_id}/migration-task/{task_id}),
// the list call (GET /v2/{project_id}/migration-tasks), and a task's progress
// (.../{task_id}/stats) and log (.../{task_id}/logs) in the real wire format,
// passwords in plain text included, from a Scenario: a set of tasks whose
// state, progress and log lines change at given offsets from the scenario
// start, plus faults (5xx, throttling, auth failures, malformed, slow,
// oversized and quirky bodies) injected during given windows. Time comes from
// an injected clock, so tests step through a scenario without sleeping; when
// AK/SK are configured, every request must carry a valid SDK-HMAC-SHA256
// signature, as at the real API gateway. It serves `watcher demo`,
// `watcher simulate`, end-to-end tests and benchmarks, and is built for fleets
// of 100k tasks: detail lookups are map hits and list pages are slices of a
// presorted fleet.
package sim
