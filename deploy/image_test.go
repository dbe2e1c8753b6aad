package deploy

import (
	"io/fs"

	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// imageName is the one name of the watcher's image: the Dockerfile's build
// line, the README and docs, and every manifest that runs it.
const imageName = "dcs-watcher:latest"

// dockerignore is .dockerignore as Docker reads it: each pattern rooted at
// the build context, "**" for any depth, a pattern that matches a
// directory excludes all below it. (Exceptions, "!", are not used.)
type dockerignore []*regexp.Regexp

func readDockerignore(t *testing.T) dockerignore {
	t.Helper()
	var d dockerignore
	for _, line := range strings.Split(string(mustRead(t, "../.dockerignore")), "\n") {
		p := strings.TrimSpace(line)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if strings.HasPrefix(p, "!") {
			t.Fatalf(".dockerignore: exception %q: this reader does not handle them", p)
		}
		p = strings.Trim(filepath.ToSlash(filepath.Clean(p)), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p); i++ {
			switch c := p[i]; {
			case strings.HasPrefix(p[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(p[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("(/.*)?$")
		d = append(d, regexp.MustCompile(re.String()))
	}
	return d
}

func (d dockerignore) excludes(path string) bool {
	for _, re := range d {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}

// TestDockerignore: the build context holds what the Dockerfile needs
// (go.mod, go.sum, every Go source, configs/, the image's config) and
// none of what must stay out (the VCS history, a data directory with its
// generated NATS passwords, local binaries, filled-in env files).
func TestDockerignore(t *testing.T) {
	d := readDockerignore(t)
	for _, p := range []string{".git", ".git/HEAD", "data/nats/watcher.password", "data/jetstream/jetstream/x",
		"cmd/watcher/data/nats/reader.password", "watcher", "cmd/watcher/watcher.test", "cpu.prof",
		"deploy/systemd/watcher.env", "watcher.env"} {
		if !d.excludes(p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	kept := 0
	err := filepath.WalkDir("..", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, ".."+string(filepath.Separator)))
		if e.IsDir() {
			if rel == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		needed := strings.HasSuffix(rel, ".go") || rel == "go.mod" || rel == "go.sum" ||
			strings.HasPrefix(rel, "configs/") || rel == "deploy/container/watcher.yaml"
		if needed {
			kept++
			if d.excludes(rel) {
				t.Errorf(".dockerignore keeps %s, which the build needs, out of the build context", rel)
			}
		}
		return nil
	})
	if err != nil || kept < 50 {
		t.Fatalf("walked the repository: %v, %d files the build needs", err, kept)
	}
}

// TestImageName: the Dockerfile's build and run lines, the README, the
// deploy docs and every manifest name the same image.
func TestImageName(t *testing.T) {
	docker := string(mustRead(t, "../Dockerfile"))
	for _, want := range []string{"docker build -t " + imageName, "-p 9090:9090 " + imageName} {
		if !strings.Contains(docker, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	for _, doc := range []string{"../README.md", "../docs/operations.md", "../docs/development.md"} {
		body := string(mustRead(t, doc))
		if !strings.Contains(body, "docker build -t "+imageName) {
			t.Errorf("%s does not build the image as %s", doc, imageName)
		}
		if m := regexp.MustCompile("docker build -t ([^ `]+)").FindAllStringSubmatch(body, -1); len(m) > 0 {
			for _, x := range m {
				if x[1] != imageName {
					t.Errorf("%s builds the image as %s, not %s", doc, x[1], imageName)
				}
			}
		}
	}
	images := regexp.MustCompile(`image:\s*(\S*watcher\S*)`)
	n := 0
	for _, m := range []string{"kubernetes/deployment.yaml", "kubernetes/cluster/deployment.yaml", "compose/compose.yaml"} {
		for _, x := range images.FindAllStringSubmatch(string(mustRead(t, m)), -1) {
			n++
			if x[1] != imageName {
				t.Errorf("%s runs image %s, not %s", m, x[1], imageName)
			}
		}
	}
	if n < 3 {
		t.Errorf("found %d watcher images in the manifests, want at least 3", n)
	}
}

// TestImageLabels: the final stage carries the OCI annotations a registry
// and a scanner read (title, source, version, revision, created).
func TestImageLabels(t *testing.T) {
	docker := string(mustRead(t, "../Dockerfile"))
	_, final, ok := strings.Cut(docker, "FROM gcr.io/distroless")
	if !ok {
		t.Fatal("Dockerfile: no distroless final stage")
	}
	for _, label := range []string{"title", "description", "source", "version", "revision", "created"} {
		if !strings.Contains(final, "org.opencontainers.image."+label+"=") {
			t.Errorf("Dockerfile: the final stage has no org.opencontainers.image.%s label", label)
		}
	}
}
