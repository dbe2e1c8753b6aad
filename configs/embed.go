// Package configs holds the files shipped inside the watcher binary: the demo
// scenario played by `watcher demo` and example scenarios for
// `watcher simulate`. The data is read-only by convention: nothing may
// modify these variables.
package configs

import "embed"

// DemoScenario is demo-scenario.yaml, the scenario of `watcher demo`.
//
//go:embed demo-scenario.yaml
var DemoScenario []byte

// Scenarios holds the example scenarios, as scenarios/<name>.yaml.
//
//go:embed scenarios/*.yaml
var Scenarios embed.FS
