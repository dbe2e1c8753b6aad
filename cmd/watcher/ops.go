package main

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/httpserver"
	"github.com/dcs-watcher/watcher/internal/metrics"
	"github.com/dcs-watcher/watcher/internal/statuspage"
)

// startHTTP serves the operational endpoints of m and, when page is not
// nil, the status page; behind basic auth and over TLS when c says so.
func startHTTP(c config.HTTPConfig, m *metrics.Metrics, page *statuspage.Page) (*httpserver.Server, error) {
	o := httpserver.Options{Registry: m.Registry, Ready: m.Ready, Live: m.Live, PProf: c.PProf}
	if page != nil {
		o.StatusPage = page
	}
	if c.BasicAuthUsersFile != "" {
		users, err := httpserver.LoadUsers(c.BasicAuthUsersFile)
		if err != nil {
			return nil, fmt.Errorf("http.basic_auth_users_file: %w", err)
		}
		o.Users = users
	}
	return httpserver.Start(c.Listen, httpserver.Handler(o), httpserver.TLSFiles{CertFile: c.TLSCertFile, KeyFile: c.TLSKeyFile})
}

// cmdVersion prints the module version, the VCS commit and time the binary
// was built from, and the Go version.
func cmdVersion(env cmdEnv, args []string) error {
	fs := newFlags("version", env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return errors.New("no build information in this binary")
	}
	rev, when, modified := "unknown", "unknown", ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	fmt.Fprintf(env.stdout, "watcher %s\ncommit %s%s, %s\n%s\n", bi.Main.Version, rev, modified, when, bi.GoVersion)
	return nil
}
