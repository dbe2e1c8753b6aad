package slackmsg

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/template"
)

// DefaultConsoleURL is the link button's target unless slack.console_url
// says otherwise: the task's page in the Huawei Cloud console. The
// console's routes are not documented; this is the shape its DCS pages
// show, and a template so that a deployment can correct it.
const DefaultConsoleURL = "https://console.huaweicloud.com/dcs/?region={{.Region}}#/dcs/migration/detail?id={{.TaskID}}"

// ConsoleURL is a parsed slack.console_url template. Its fields are
// Region, ProjectID and TaskID, each query-escaped.
type ConsoleURL struct{ t *template.Template }

// consoleFields are what the template sees.
type consoleFields struct{ Region, ProjectID, TaskID string }

// ParseConsoleURL parses tmpl and checks that it makes an http(s) URL.
func ParseConsoleURL(tmpl string) (*ConsoleURL, error) {
	t, err := template.New("console_url").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("console url template: %w", err)
	}
	c := &ConsoleURL{t: t}
	u, err := c.For("cn-north-4", "0123456789abcdef", "task-id")
	if err != nil {
		return nil, err
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return nil, errors.New("console url template: does not make an http(s) URL")
	}
	return c, nil
}

// For is the console URL of a task.
func (c *ConsoleURL) For(region, project, task string) (string, error) {
	var b strings.Builder
	f := consoleFields{Region: url.QueryEscape(region), ProjectID: url.QueryEscape(project), TaskID: url.QueryEscape(task)}
	if err := c.t.Execute(&b, f); err != nil {
		return "", fmt.Errorf("console url template: %w", err)
	}
	return b.String(), nil
}
