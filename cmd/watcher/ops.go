package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"time"

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

// cmdHealth asks a running watcher's /healthz: exit 0 when it answers 200.
// It is the container image's health check, which has no shell nor curl.
func cmdHealth(ctx context.Context, env cmdEnv, args []string) error {
	fs := newFlags("health", env)
	path := fs.String("c", "watcher.yaml", "configuration file (its http.listen)")
	addr := fs.String("addr", "", "host:port of the watcher's HTTP server (default: http.listen of the config)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	target := *addr
	if target == "" {
		cfg, err := config.LoadSections(*path, env.getenv, config.SectionHTTP)
		if err != nil {
			return usageError{err}
		}
		if cfg.HTTP.Listen == "" {
			return usageError{errors.New("http.listen: not set, so there is no /healthz to ask (or give --addr)")}
		}
		target = cfg.HTTP.Listen
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return usageError{fmt.Errorf("address %q: %w", target, err)}
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1" // listening on every address: ask the loopback one
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered HTTP %d", url, resp.StatusCode)
	}
	fmt.Fprintln(env.stdout, "healthy")
	return nil
}
