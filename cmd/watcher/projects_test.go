package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dcs-watcher/watcher/e2e/fixture"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// TestValidatePrintsEveryProject: validate lists each project of
// dcs.projects with its region and what it watches.
func TestValidatePrintsEveryProject(t *testing.T) {
	path := testutil.WriteFile(t, "watcher.yaml", `dcs:
  rate_limit: 30
  projects:
    - {name: north, project_id: `+project+`, rate_limit: 10}
    - {name: eu, region: eu-west-101, project_id: `+fixture.ProjectEU+`, discover: false, task_ids: [`+fixture.TaskEU+`]}
`)
	var out, errb bytes.Buffer
	code := runCLI([]string{"validate", "-c", path}, &out, &errb, envOf(map[string]string{
		"HUAWEICLOUD_SDK_AK": plantedAK, "HUAWEICLOUD_SDK_SK": plantedSK,
	}))
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	for _, want := range []string{
		"config ok: 2 projects", "account rate limit 30/s",
		"north: project " + project + ", region cn-north-4, watching every task the list call returns, at most 10 calls/s",
		"eu: project " + fixture.ProjectEU + ", region eu-west-101, watching 1 configured task(s), no cap of its own",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout %q lacks %q", out.String(), want)
		}
	}
}
