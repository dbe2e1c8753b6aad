package main

import "github.com/dcs-watcher/watcher/e2e/fixture"

// The shared fixture (planted secrets, the end-to-end scenario and its
// ids), as these tests name it.
const (
	plantedAK     = fixture.AK
	plantedSK     = fixture.SK
	webhookSecret = fixture.WebhookToken
	project       = fixture.Project
	taskA         = fixture.TaskA
)

var e2eScenario = fixture.Scenario
