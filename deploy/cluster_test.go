package deploy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/dcs-watcher/watcher/internal/config"
)

// envFile reads KEY=value lines, as docker compose's env_file does.
func envFile(t *testing.T, path string) func(string) string {
	t.Helper()
	vars := map[string]string{}
	for line := range strings.Lines(string(mustRead(t, path))) {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			vars[k] = v
		}
	}
	return func(k string) string { return vars[k] }
}

// checkClusterConfig: a watcher config for the cluster is valid with the
// given environment, names the three NATS servers and keeps everything on
// all three.
func checkClusterConfig(t *testing.T, name string, raw []byte, env func(string) string, servers []string) {
	t.Helper()
	cfg, err := config.Parse(raw, name, env)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	if got := strings.Split(cfg.NATS.URL, ","); strings.Join(got, ",") != strings.Join(servers, ",") {
		t.Errorf("%s: nats.url lists %v, want %v", name, got, servers)
	}
	if cfg.NATS.Replicas != 3 || !cfg.Slack.Enabled || !strings.HasSuffix(cfg.HTTP.Listen, ":9090") {
		t.Errorf("%s: nats.replicas %d, slack.enabled %v, http.listen %q: want 3, true, :9090", name, cfg.NATS.Replicas, cfg.Slack.Enabled, cfg.HTTP.Listen)
	}
	if cfg.NATS.Token == "" {
		t.Errorf("%s: no NATS token from the environment (WATCHER_NATS_TOKEN)", name)
	}
}

// parseNATSConf parses a nats.conf as nats-server does, with the
// environment variables it references set.
func parseNATSConf(t *testing.T, name, body string, env map[string]string) map[string]any {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	m, err := conf.Parse(body)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// TestCompose: three NATS nodes clustered with JetStream, each naming the
// same three routes and a volume of its own; watcher replicas configured
// for the three nodes, with their secrets from the env file.
func TestCompose(t *testing.T) {
	doc := decodeAll(t, "compose/compose.yaml")[0]
	services, _ := doc["services"].(map[string]any)
	routes := "nats://nats-1:6222,nats://nats-2:6222,nats://nats-3:6222"
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("nats-%d", i)
		svc, _ := services[name].(map[string]any)
		if svc == nil {
			t.Fatalf("compose.yaml: no service %s", name)
		}
		if img, _ := svc["image"].(string); !strings.HasPrefix(img, "nats:") {
			t.Errorf("%s: image %q, want the official nats image", name, img)
		}
		args := fmt.Sprint(svc["command"])
		for _, want := range []string{"--js", "--name " + name, "--cluster_name dcs-watcher", "--cluster nats://0.0.0.0:6222", "--routes " + routes, "-c /etc/nats/nats.conf"} {
			if !strings.Contains(args, want) {
				t.Errorf("%s: command %s lacks %q", name, args, want)
			}
		}
		if vols := fmt.Sprint(svc["volumes"]); !strings.Contains(vols, name+":/data") {
			t.Errorf("%s: volumes %s: want its own volume at /data", name, vols)
		}
		if fmt.Sprint(svc["env_file"]) != "[watcher.env]" {
			t.Errorf("%s: env_file %v, want watcher.env (the token)", name, svc["env_file"])
		}
	}
	w, _ := services["watcher"].(map[string]any)
	dep, _ := w["deploy"].(map[string]any)
	if r, _ := dep["replicas"].(int); r < 2 || r > 3 {
		t.Errorf("watcher: deploy.replicas %v, want 2 or 3", dep["replicas"])
	}
	if fmt.Sprint(w["env_file"]) != "[watcher.env]" || !strings.Contains(fmt.Sprint(w["volumes"]), "./watcher.yaml:/etc/watcher/watcher.yaml") {
		t.Errorf("watcher: env_file %v, volumes %v: want watcher.env and watcher.yaml", w["env_file"], w["volumes"])
	}
	env := envFile(t, "compose/watcher.env.example")
	checkClusterConfig(t, "compose/watcher.yaml", mustRead(t, "compose/watcher.yaml"), env,
		[]string{"nats://nats-1:4222", "nats://nats-2:4222", "nats://nats-3:4222"})
	m := parseNATSConf(t, "compose/nats.conf", string(mustRead(t, "compose/nats.conf")), map[string]string{"NATS_TOKEN": env("NATS_TOKEN")})
	if auth, _ := m["authorization"].(map[string]any); auth["token"] != env("NATS_TOKEN") {
		t.Errorf("compose/nats.conf: the token is not $NATS_TOKEN")
	}
	if m["jetstream"] == nil || m["listen"] != "0.0.0.0:4222" {
		t.Errorf("compose/nats.conf: jetstream %v, listen %v", m["jetstream"], m["listen"])
	}
}

// TestKubernetesCluster: a StatefulSet of three NATS servers whose
// nats.conf routes name the pods through the headless Service, and three
// watcher replicas configured for them, probed on /healthz and /readyz.
func TestKubernetesCluster(t *testing.T) {
	byKind := map[string]map[string]any{}
	for _, f := range []string{"nats.yaml", "configmap.yaml", "secret.yaml", "deployment.yaml"} {
		for _, d := range decodeAll(t, "kubernetes/cluster/"+f) {
			md, _ := d["metadata"].(map[string]any)
			byKind[fmt.Sprintf("%s/%s", d["kind"], md["name"])] = d
		}
	}
	spec := func(key string) map[string]any {
		d := byKind[key]
		if d == nil {
			t.Fatalf("kubernetes/cluster: no %s", key)
		}
		s, _ := d["spec"].(map[string]any)
		return s
	}
	sts := spec("StatefulSet/nats")
	if sts["replicas"] != 3 || sts["serviceName"] != "nats" {
		t.Errorf("StatefulSet nats: replicas %v, serviceName %v: want 3, nats", sts["replicas"], sts["serviceName"])
	}
	if svc := spec("Service/nats"); svc["clusterIP"] != "None" {
		t.Errorf("Service nats: clusterIP %v, want None (headless)", svc["clusterIP"])
	}
	if !strings.Contains(fmt.Sprint(sts["template"]), "WATCHER_NATS_TOKEN") {
		t.Errorf("StatefulSet nats: the token does not come from the watcher's Secret")
	}
	natsCM, _ := byKind["ConfigMap/nats"]["data"].(map[string]any)
	body, _ := natsCM["nats.conf"].(string)
	m := parseNATSConf(t, "ConfigMap nats: nats.conf", body, map[string]string{"SERVER_NAME": "nats-0", "NATS_TOKEN": "t"})
	cl, _ := m["cluster"].(map[string]any)
	var routes []string
	for _, r := range cl["routes"].([]any) {
		routes = append(routes, r.(string))
	}
	if want := "nats://nats-0.nats:6222,nats://nats-1.nats:6222,nats://nats-2.nats:6222"; strings.Join(routes, ",") != want || cl["listen"] != "0.0.0.0:6222" || cl["name"] == nil {
		t.Errorf("nats.conf cluster: routes %v, listen %v, name %v: want %s, 0.0.0.0:6222, a name", routes, cl["listen"], cl["name"], want)
	}
	if js, _ := m["jetstream"].(map[string]any); js["store_dir"] != "/data" || m["server_name"] != "nats-0" {
		t.Errorf("nats.conf: jetstream %v, server_name %v: want store_dir /data and the pod's name", m["jetstream"], m["server_name"])
	}
	if !strings.Contains(fmt.Sprint(sts["volumeClaimTemplates"]), "data") {
		t.Errorf("StatefulSet nats: no volume claim template for /data")
	}

	dep := spec("Deployment/dcs-watcher")
	if dep["replicas"] != 3 {
		t.Errorf("Deployment dcs-watcher: replicas %v, want 3", dep["replicas"])
	}
	raw := string(mustRead(t, "kubernetes/cluster/deployment.yaml"))
	for _, want := range []string{"path: /healthz", "path: /readyz", "containerPort: 9090", "secretRef: {name: dcs-watcher}", "configMap: {name: dcs-watcher}"} {
		if !strings.Contains(raw, want) {
			t.Errorf("cluster/deployment.yaml lacks %q", want)
		}
	}
	sec, _ := byKind["Secret/dcs-watcher"]["stringData"].(map[string]any)
	env := func(k string) string { s, _ := sec[k].(string); return s }
	cm, _ := byKind["ConfigMap/dcs-watcher"]["data"].(map[string]any)
	wy, _ := cm["watcher.yaml"].(string)
	checkClusterConfig(t, "cluster configmap watcher.yaml", []byte(wy), env,
		[]string{"nats://nats-0.nats:4222", "nats://nats-1.nats:4222", "nats://nats-2.nats:4222"})
}
