// Package dcs talks to the Huawei Cloud DCS API about data-migration tasks:
// it fetches task details, lists tasks, and reads a task's progress (stats)
// and log with context-aware, signed HTTP calls, decodes the API's loosely
// typed bodies into the domain Task (dropping Redis passwords at this
// boundary, keeping only whether one is set, and scrubbing password- and
// key-looking values out of log lines), and sorts failures into error
// classes callers test with errors.Is/As. Task and the status model
// (phases, terminal set, spelling variants) are the event contract's
// (package event), named here as the watcher's code uses them. It also
// finds the credentials the way Huawei Cloud tools do (the config, the
// SDK's environment variables, the profile file, the ECS metadata service
// with refresh before expiry) and looks a region's project id up in IAM.
package dcs
