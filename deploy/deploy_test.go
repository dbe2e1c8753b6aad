// Package deploy holds the deployment files (systemd unit, Kubernetes
// manifests, the container's config); its test checks they parse and
// agree with the watcher's config and endpoints.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/dcs-watcher/watcher/internal/config"
)

// secretEnv stands for the Secret's variables, as the pod gets them.
func secretEnv(t *testing.T) func(string) string {
	docs := decodeAll(t, "kubernetes/secret.yaml")
	data, _ := docs[0]["stringData"].(map[string]any)
	if len(data) == 0 {
		t.Fatal("kubernetes/secret.yaml: no stringData")
	}
	return func(k string) string { s, _ := data[k].(string); return s }
}

func decodeAll(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, d)
	}
}

// TestManifestsParse yaml-decodes every YAML file under deploy/; each
// Kubernetes document names its apiVersion, kind and name.
func TestManifestsParse(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return err
		}
		for _, doc := range decodeAll(t, p) {
			n++
			if strings.HasPrefix(p, "kubernetes/") {
				md, _ := doc["metadata"].(map[string]any)
				if doc["apiVersion"] == nil || doc["kind"] == nil || md["name"] == nil {
					t.Errorf("%s: a document without apiVersion, kind or metadata.name", p)
				}
			}
		}
		return nil
	})
	if err != nil || n < 6 {
		t.Fatalf("walked deploy/: %v, %d documents", err, n)
	}
}

// TestConfigsValid: the ConfigMap's watcher.yaml and the image's config
// are valid watcher configs with the Secret's variables, and serve HTTP
// on the port the probes and the Dockerfile use.
func TestConfigsValid(t *testing.T) {
	env := secretEnv(t)
	cm := decodeAll(t, "kubernetes/configmap.yaml")[0]
	data, _ := cm["data"].(map[string]any)
	body, _ := data["watcher.yaml"].(string)
	for name, raw := range map[string][]byte{"configmap watcher.yaml": []byte(body), "container/watcher.yaml": mustRead(t, "container/watcher.yaml")} {
		cfg, err := config.Parse(raw, name, env)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !strings.HasSuffix(cfg.HTTP.Listen, ":9090") || cfg.NATS.Listen != "127.0.0.1:4222" {
			t.Errorf("%s: http.listen %q, nats.listen %q: want :9090 and the loopback NATS", name, cfg.HTTP.Listen, cfg.NATS.Listen)
		}
	}
	dep := string(mustRead(t, "kubernetes/deployment.yaml"))
	for _, want := range []string{"path: /healthz", "path: /readyz", "containerPort: 9090", "claimName: dcs-watcher-data", "secretRef: {name: dcs-watcher}"} {
		if !strings.Contains(dep, want) {
			t.Errorf("deployment.yaml lacks %q", want)
		}
	}
	docker := string(mustRead(t, "../Dockerfile"))
	for _, want := range []string{"EXPOSE 9090", `"health", "-c", "/etc/watcher/watcher.yaml"`, "COPY deploy/container/watcher.yaml /etc/watcher/watcher.yaml"} {
		if !strings.Contains(docker, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	unit := string(mustRead(t, "systemd/watcher.service"))
	for _, want := range []string{"ExecStart=/usr/local/bin/watcher run -c ", "ExecReload=/bin/kill -HUP $MAINPID", "EnvironmentFile=", "NoNewPrivileges=yes", "ProtectSystem=strict"} {
		if !strings.Contains(unit, want) {
			t.Errorf("watcher.service lacks %q", want)
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
