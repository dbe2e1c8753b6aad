package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit, with
// ExecStart pointed at an executable that exists (verify checks it).
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: the unit is not verified here (CI's Debian image has it)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "watcher")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(mustRead(t, "systemd/watcher.service")), "/usr/local/bin/watcher", bin)
	path := filepath.Join(dir, "watcher.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify watcher.service: %v\n%s", err, out)
	}
}

// TestSystemdUnitPermissions: the unit's DynamicUser can read the config
// directory its install steps create, and its state directory is owner
// only, so the watcher does not warn about its own data_dir at each start.
func TestSystemdUnitPermissions(t *testing.T) {
	unit := string(mustRead(t, "systemd/watcher.service"))
	if !strings.Contains(unit, "DynamicUser=yes") {
		t.Skip("the unit has no dynamic user: nothing to check")
	}
	m := regexp.MustCompile(`install -d -m (0[0-7]{3}) /etc/watcher\b`).FindStringSubmatch(unit)
	if m == nil {
		t.Fatal("watcher.service: no `install -d -m MODE /etc/watcher` install step")
	}
	// The dynamic user owns nothing there and is in no group of root's:
	// it is "others", which needs r-x on the directory.
	if mode, _ := strconv.ParseUint(m[1], 8, 32); mode&0o005 != 0o005 {
		t.Errorf("install step creates /etc/watcher %s: the service's DynamicUser cannot read watcher.yaml in it", m[1])
	}
	if !regexp.MustCompile(`install -m 0644 \S+ /etc/watcher/watcher.yaml`).MatchString(unit) {
		t.Error("watcher.service: watcher.yaml is not installed readable by others (0644)")
	}
	if !strings.Contains(unit, "install -m 0600 deploy/systemd/watcher.env.example /etc/watcher/watcher.env") {
		t.Error("watcher.service: watcher.env (secrets, read by systemd as root) is not installed 0600")
	}
	s := regexp.MustCompile(`(?m)^StateDirectoryMode=(0[0-7]{3})$`).FindStringSubmatch(unit)
	if s == nil {
		t.Fatal("watcher.service: no StateDirectoryMode= (systemd's default 0755 lets others read data_dir)")
	}
	// The broker warns when group or others have any access to data_dir.
	if mode, _ := strconv.ParseUint(s[1], 8, 32); mode&0o077 != 0 {
		t.Errorf("StateDirectoryMode=%s: group or others may read data_dir, and the watcher warns at every start", s[1])
	}
}
