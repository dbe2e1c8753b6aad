package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSlackTemplates: slack.template and slack.routes[].template are
// loaded with the config; a template that does not parse, or fails on a
// sample event, is refused at load with the key, the config's line and
// the template's file and line; a good one, and the shipped example, load.
func TestSlackTemplates(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.tmpl", `{{define "header"}}{{.Emoji}} {{.Name}}{{end}}`)
	broken := write("oncall.tmpl", "{{define \"header\"}}\n{{.Name}}\n{{if}}\n{{end}}")
	failing := write("failing.tmpl", "{{define \"text\"}}{{.TaskNmae}}{{end}}")
	config := func(def, route1 string) string {
		return `slack:
  enabled: true
  webhook_url: https://hooks.slack.example/services/T/B/X
  template: ` + def + `
  routes:
    - name: db
      webhook_url: https://hooks.slack.example/services/T/B/Y
    - name: oncall
      webhook_url: https://hooks.slack.example/services/T/B/Z
      template: ` + route1 + `
`
	}
	env := testEnv(credsEnv())
	c, err := Parse([]byte(config(good, "../../configs/slack-template.example.tmpl")), "w.yaml", env)
	if err != nil {
		t.Fatalf("good templates refused: %v", err)
	}
	if c.Slack.Template != good || c.Slack.Routes[1].Template == "" {
		t.Errorf("templates not read: %+v", c.Slack)
	}
	for name, tt := range map[string]struct{ yaml, want string }{
		"route template does not parse": {config(good, broken), "w.yaml:10: slack.routes[1].template: parse " + broken + ":3: missing value for if"},
		"default template fails":        {config(failing, good), "w.yaml:4: slack.template: render " + failing + ":1:"},
		"missing file":                  {config(good, filepath.Join(dir, "nope.tmpl")), "w.yaml:10: slack.routes[1].template: read template: open "},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "w.yaml", env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}
