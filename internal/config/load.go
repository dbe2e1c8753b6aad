package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/dcs-watcher/watcher/internal/secret"
)

// Load reads the YAML file at path and returns the checked configuration:
// Default, then the file (an empty file keeps every default), then the
// environment overrides, then Validate. getenv is usually os.Getenv; nil
// means no environment. Errors name the file, and the line and key path
// where known.
func Load(path string, getenv func(string) string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path, getenv)
}

// Parse is Load for a configuration already in memory; name stands for the
// file in error messages.
func Parse(data []byte, name string, getenv func(string) string) (Config, error) {
	cfg := Default()
	keys, err := decode(data, name, &cfg)
	if err != nil {
		return Config{}, err
	}
	fromEnv := applyEnv(&cfg, getenv)
	if err := cfg.Validate(); err != nil {
		return Config{}, locate(err, name, keys.lines, fromEnv)
	}
	return cfg, nil
}

// envOverride maps one environment variable onto one key.
type envOverride struct {
	env, key string
	set      func(c *Config, v string)
}

// envOverrides lists the variables that win over the file: credentials (so
// they need not be written down), the project id and the NATS URL (which
// differ between deployments of one file).
func envOverrides() []envOverride {
	return []envOverride{
		{EnvProjectID, "dcs.project_id", func(c *Config, v string) { c.DCS.ProjectID = v }},
		{EnvAK, "dcs.ak", func(c *Config, v string) { c.DCS.AK = secret.Secret(v) }},
		{EnvSK, "dcs.sk", func(c *Config, v string) { c.DCS.SK = secret.Secret(v) }},
		{EnvSecurityToken, "dcs.security_token", func(c *Config, v string) { c.DCS.SecurityToken = secret.Secret(v) }},
		{EnvDCSAuthToken, "dcs.auth_token", func(c *Config, v string) { c.DCS.AuthToken = secret.Secret(v) }},
		{EnvIAMEndpoint, "dcs.iam_endpoint", func(c *Config, v string) { c.DCS.IAMEndpoint = v }},
		{EnvNATSURL, "nats.url", func(c *Config, v string) { c.NATS.URL = v }},
		{EnvNATSToken, "nats.token", func(c *Config, v string) { c.NATS.Token = secret.Secret(v) }},
		{EnvSlackWebhook, "slack.webhook_url", func(c *Config, v string) { c.Slack.WebhookURL = secret.Secret(v) }},
		{EnvSlackBotToken, "slack.bot_token", func(c *Config, v string) { c.Slack.BotToken = secret.Secret(v) }},
		{EnvSlackAppToken, "slack.app_token", func(c *Config, v string) { c.Slack.AppToken = secret.Secret(v) }},
		{EnvHeartbeatPingURL, "heartbeat.ping_url", func(c *Config, v string) { c.Heartbeat.PingURL = secret.Secret(v) }},
	}
}

// applyEnv sets every key whose variable is non-empty and returns, by key
// path, the variable that set it. Values are trimmed: a token pasted with a
// trailing newline would otherwise fail authentication obscurely.
func applyEnv(c *Config, getenv func(string) string) map[string]string {
	from := map[string]string{}
	if getenv == nil {
		return from
	}
	for _, o := range envOverrides() {
		if v := strings.TrimSpace(getenv(o.env)); v != "" {
			o.set(c, v)
			from[o.key] = o.env
		}
	}
	return from
}

// decode fills cfg from data. Unknown keys are found by walking the node tree
// against Config's type, which yields their full path and a suggestion; the
// strict decoder (KnownFields) then does the decoding, and its type errors
// are rewritten as "name:line: key.path: message".
func decode(data []byte, name string, cfg *Config) (*keyIndex, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &keyIndex{}, nil // an empty file keeps every default
		}
		return nil, fmt.Errorf("%w%s", yamlError(name, err, nil), quoteHint(data, err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(name, err, nil)
		}
		return nil, fmt.Errorf("%s:%d: a second YAML document: the config is one document", name, extra.Line)
	}
	idx := &keyIndex{name: name, lines: map[string]int{}, byLine: map[int][]string{}}
	idx.walk(&doc, reflect.TypeOf(Config{}), "")
	if len(idx.errs) > 0 {
		return nil, errors.Join(idx.errs...)
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(cfg); err != nil {
		return nil, yamlError(name, err, idx.byLine)
	}
	return idx, nil
}

// keyIndex records where each key path sits in the file, and the unknown keys.
type keyIndex struct {
	name   string
	lines  map[string]int   // key path -> line of the key
	byLine map[int][]string // line of a value -> key paths whose value is there
	errs   []error
}

func (x *keyIndex) walk(n *yaml.Node, t reflect.Type, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			x.walk(c, t, path)
		}
		return
	case yaml.AliasNode:
		if n.Alias != nil {
			x.walk(n.Alias, t, path)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind == yaml.MappingNode {
			x.walkMapping(n, t, path)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return // the decoder reports the mismatch
		}
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			x.record(p, e.Line, e.Line)
			x.walk(e, t.Elem(), p)
		}
	}
}

func (x *keyIndex) walkMapping(n *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			x.walkMerge(v, t, path)
			continue
		}
		p := joinPath(path, k.Value)
		f, ok := fields[k.Value]
		if !ok {
			x.errs = append(x.errs, fmt.Errorf("%s:%d: unknown key %q%s", x.name, k.Line, p, suggest(path, k.Value, fields)))
			continue
		}
		x.record(p, k.Line, v.Line)
		x.walk(v, f, p)
	}
}

// walkMerge follows a YAML merge key ("<<: *defaults"), whose value is a
// mapping or a list of mappings merged into the enclosing one.
func (x *keyIndex) walkMerge(v *yaml.Node, t reflect.Type, path string) {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	if v.Kind == yaml.SequenceNode {
		for _, e := range v.Content {
			x.walkMerge(e, t, path)
		}
		return
	}
	x.walk(v, t, path)
}

func (x *keyIndex) record(path string, keyLine, valueLine int) {
	x.lines[path] = keyLine
	x.byLine[valueLine] = append(x.byLine[valueLine], path)
}

// yamlFields maps the yaml key of each field of struct type t to its type.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if key, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); key != "" && key != "-" {
			m[key] = f.Type
		}
	}
	return m
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// suggest names the known key closest to a misspelt one, if any is close.
func suggest(parent, key string, fields map[string]reflect.Type) string {
	best, bestDist := "", 3 // more than two edits away is a different word
	for known := range fields {
		d := editDistance(strings.ToLower(key), known)
		if d < bestDist || d == bestDist && known < best {
			best, bestDist = known, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", joinPath(parent, best))
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// yamlError rewrites yaml.v3's messages ("yaml: line 12: ...") as
// "name:12: key.path: ...". byLine, when known, names the key whose value
// is on that line.
func yamlError(name string, err error, byLine map[int][]string) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%s", locateLine(name, strings.TrimPrefix(err.Error(), "yaml: "), byLine))
	}
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		errs = append(errs, fmt.Errorf("%s", locateLine(name, msg, byLine)))
	}
	return errors.Join(errs...)
}

// quoteHint is a hint for a syntax error on a line whose value starts with
// a character YAML reserves (@ or `): an unquoted "schedule: @every 5s"
// is not a string but an error that names neither the key nor the cure.
func quoteHint(data []byte, err error) string {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	n, _ := strconv.Atoi(m[1])
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	key, v, ok := strings.Cut(lines[n-1], ":")
	v = strings.TrimSpace(v)
	if !ok || v == "" || !strings.ContainsAny(v[:1], "@`") {
		return ""
	}
	return fmt.Sprintf(" (a value cannot start with %s unless quoted: %s: %q)", v[:1], strings.TrimSpace(key), v)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+):`)

func locateLine(name, msg string, byLine map[int][]string) string {
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return name + ": " + msg
	}
	num, text, ok := strings.Cut(rest, ": ")
	line, err := strconv.Atoi(num)
	if !ok || err != nil {
		return name + ": " + msg
	}
	text = friendlier(text)
	if path := innermost(byLine[line]); path != "" {
		return fmt.Sprintf("%s:%d: %s: %s", name, line, path, text)
	}
	return fmt.Sprintf("%s:%d: %s", name, line, text)
}

// innermost returns the path that all others on a line enclose ("dcs" and
// "dcs.timeout" -> "dcs.timeout"), or "" when the line holds siblings, as a
// flow mapping does, and the culprit cannot be told from the line alone.
func innermost(paths []string) string {
	best := ""
	for _, p := range paths {
		if len(p) > len(best) {
			best = p
		}
	}
	for _, p := range paths {
		if p != best && !strings.HasPrefix(best, p+".") && !strings.HasPrefix(best, p+"[") {
			return ""
		}
	}
	return best
}

// friendlier adds the hint yaml.v3 leaves out for its commonest type errors.
func friendlier(text string) string {
	if k, ok := strings.CutPrefix(text, "field "); ok {
		if key, _, ok := strings.Cut(k, " not found in type"); ok {
			return fmt.Sprintf("unknown key %q", key)
		}
	}
	if strings.HasSuffix(text, "into time.Duration") {
		return text + ` (want a duration with a unit, e.g. "30s")`
	}
	return text
}

// locate prefixes each validation problem with the file and, when the key
// is written in the file, its line; a value set by an environment variable
// says so instead, since the file's line would point at the wrong value.
func locate(err error, name string, lines map[string]int, fromEnv map[string]string) error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		var fe *FieldError
		switch {
		case !errors.As(e, &fe):
			out = append(out, fmt.Errorf("%s: %w", name, e))
		case fromEnv[fe.Key] != "":
			out = append(out, fmt.Errorf("%s: %w (value from %s)", name, e, fromEnv[fe.Key]))
		case lines[fe.Key] > 0:
			out = append(out, fmt.Errorf("%s:%d: %w", name, lines[fe.Key], e))
		default:
			out = append(out, fmt.Errorf("%s: %w", name, e))
		}
	}
	return errors.Join(out...)
}
