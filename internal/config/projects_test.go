package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// One project written the old way is one resolved project, from dcs and
// poll, so that single-project configs keep working unchanged.
func TestProjectsFromProjectID(t *testing.T) {
	c := validConfig()
	c.DCS.Endpoint = "http://127.0.0.1:9"
	c.Poll.TaskIDs = []string{"t1"}
	c.Poll.NameFilter = "orders-"
	got := c.Projects()
	want := []Project{{
		Key: "dcs", Name: c.DCS.ProjectID, Region: "cn-north-4", Endpoint: "http://127.0.0.1:9",
		ProjectID: c.DCS.ProjectID, NameFilter: "orders-", TaskIDs: []string{"t1"}, Discover: true,
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Projects() = %+v\nwant %+v", got, want)
	}
}

// What an entry leaves out it takes from dcs and poll; an entry with a
// region of its own does not take dcs.endpoint, which is another region's.
func TestProjectsInherit(t *testing.T) {
	c := validConfig()
	c.DCS.ProjectID = ""
	c.DCS.Endpoint = "http://127.0.0.1:9"
	c.Poll.NameFilter = "orders-"
	off := false
	c.DCS.Projects = []ProjectConfig{
		{ProjectID: "pa"},
		{Name: "eu", Region: "eu-west-101", ProjectID: "pb", TaskIDs: []string{"t1"}, Discover: &off, RateLimit: 5},
		{Name: "cache", ProjectID: "pc", NameFilter: "cache-"},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []Project{
		{Key: "dcs.projects[0]", Name: "pa", Region: "cn-north-4", Endpoint: "http://127.0.0.1:9", ProjectID: "pa",
			NameFilter: "orders-", TaskIDs: []string{}, Discover: true},
		{Key: "dcs.projects[1]", Name: "eu", Region: "eu-west-101", ProjectID: "pb",
			TaskIDs: []string{"t1"}, Discover: false, RateLimit: 5},
		{Key: "dcs.projects[2]", Name: "cache", Region: "cn-north-4", Endpoint: "http://127.0.0.1:9", ProjectID: "pc",
			NameFilter: "cache-", TaskIDs: []string{}, Discover: true},
	}
	if got := c.Projects(); !reflect.DeepEqual(got, want) {
		t.Errorf("Projects() = %+v\nwant %+v", got, want)
	}
}

// The project id of the environment cannot silently add a project to, or
// be silently dropped beside, dcs.projects: the error names the variable.
func TestProjectsRefuseEnvProjectID(t *testing.T) {
	data := []byte("dcs:\n  projects:\n    - project_id: pa\n")
	_, err := Parse(data, "w.yaml", testEnv(credsEnv()))
	if err == nil || !strings.Contains(err.Error(), "dcs.project_id: set either") ||
		!strings.Contains(err.Error(), "(value from "+EnvProjectID+")") {
		t.Fatalf("Parse = %v, want the exclusivity error naming %s", err, EnvProjectID)
	}
	env := credsEnv()
	delete(env, EnvProjectID)
	c, err := Parse(data, "w.yaml", testEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Projects(); len(got) != 1 || got[0].ProjectID != "pa" {
		t.Errorf("Projects() = %+v", got)
	}
}

// A key path in dcs.projects reaches the line of the file it is on.
func TestProjectsErrorLine(t *testing.T) {
	data := []byte("dcs:\n  projects:\n    - project_id: pa\n    - project_id: pa\n")
	env := credsEnv()
	delete(env, EnvProjectID)
	_, err := Parse(data, "w.yaml", testEnv(env))
	if err == nil || !strings.Contains(err.Error(), `w.yaml:4: dcs.projects[1].project_id: duplicate project id "pa"`) {
		t.Fatalf("Parse = %v", err)
	}
}

// The shipped example of dcs.projects parses, watches several projects and
// writes every key of an entry: the keys watcher.yaml can only describe
// (its dcs.projects is empty, as the default is) are shown working here.
func TestProjectsExampleNamesEveryKey(t *testing.T) {
	data, err := os.ReadFile("../../configs/watcher-projects.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := credsEnv()
	delete(env, EnvProjectID)
	c, err := Parse(data, "watcher-projects.example.yaml", testEnv(env))
	if err != nil {
		t.Fatalf("example does not parse: %v", err)
	}
	if n := len(c.Projects()); n < 2 {
		t.Fatalf("example watches %d project(s)", n)
	}
	_, idx, err := decodeForTest(data)
	if err != nil {
		t.Fatal(err)
	}
	for key := range yamlFields(reflect.TypeOf(ProjectConfig{})) {
		written := false
		for i := range c.DCS.Projects {
			written = written || idx.lines[fmt.Sprintf("dcs.projects[%d].%s", i, key)] > 0
		}
		if !written {
			t.Errorf("example writes dcs.projects[].%s in no entry", key)
		}
	}
}
