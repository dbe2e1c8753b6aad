package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// The AsyncAPI document of the NATS contract and its validator, relative to
// this package.
const (
	asyncAPIPath  = "../../docs/asyncapi.yaml"
	validatorDir  = "../../tools/asyncapi"
	requireParser = "WATCHER_REQUIRE_ASYNCAPI" // set by .ci/run: a missing parser fails, not skips
)

// asyncDoc is the part of docs/asyncapi.yaml the checks below read.
type asyncDoc struct {
	Info struct {
		Version string `yaml:"version"`
	} `yaml:"info"`
	Channels   map[string]asyncChannel `yaml:"channels"`
	Operations map[string]struct {
		Action  string `yaml:"action"`
		Channel struct {
			Ref string `yaml:"$ref"`
		} `yaml:"channel"`
		Messages []struct {
			Ref string `yaml:"$ref"`
		} `yaml:"messages"`
	} `yaml:"operations"`
	Components struct {
		Parameters map[string]asyncParam `yaml:"parameters"`
		Messages   map[string]struct {
			Name    string `yaml:"name"`
			Payload struct {
				Schema struct {
					AllOf []struct {
						Ref        string `yaml:"$ref"`
						Properties struct {
							Type struct {
								Const string `yaml:"const"`
							} `yaml:"type"`
							Data struct {
								Properties struct {
									Kind struct {
										Const string `yaml:"const"`
									} `yaml:"kind"`
								} `yaml:"properties"`
							} `yaml:"data"`
						} `yaml:"properties"`
					} `yaml:"allOf"`
				} `yaml:"schema"`
			} `yaml:"payload"`
		} `yaml:"messages"`
		JetStream struct {
			Stream          string   `yaml:"stream"`
			Subjects        []string `yaml:"subjects"`
			Retention       string   `yaml:"retention"`
			MaxAge          string   `yaml:"max_age"`
			DuplicateWindow string   `yaml:"duplicate_window"`
		} `yaml:"x-jetstream"`
	} `yaml:"components"`
}

type asyncChannel struct {
	Address    string                `yaml:"address"`
	Parameters map[string]asyncParam `yaml:"parameters"`
	Messages   map[string]struct {
		Ref string `yaml:"$ref"`
	} `yaml:"messages"`
}

type asyncParam struct {
	Ref     string   `yaml:"$ref"`
	Enum    []string `yaml:"enum"`
	Default string   `yaml:"default"`
}

func readAsyncAPI(t *testing.T) asyncDoc {
	t.Helper()
	b, err := os.ReadFile(asyncAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var d asyncDoc
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", asyncAPIPath, err)
	}
	return d
}

// param is a channel's parameter, its $ref to components followed.
func (d asyncDoc) param(t *testing.T, ch, name string) asyncParam {
	t.Helper()
	p, ok := d.Channels[ch].Parameters[name]
	if !ok {
		t.Fatalf("channel %s has no parameter %s", ch, name)
	}
	if p.Ref != "" {
		p, ok = d.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
		if !ok {
			t.Fatalf("channel %s: parameter %s refers to %s, which does not exist", ch, name, p.Ref)
		}
	}
	return p
}

// addressRE reads a channel's address as a pattern of subjects: the prefix
// is its default, a parameter with an enum one of its values, any other
// parameter one token (the task one that does not begin with _).
func (d asyncDoc) addressRE(t *testing.T, ch string) *regexp.Regexp {
	t.Helper()
	addr := d.Channels[ch].Address
	if addr == "" {
		t.Fatalf("channel %s has no address", ch)
	}
	var re strings.Builder
	for _, part := range regexp.MustCompile(`\{[^}]*\}|[^{]+`).FindAllString(addr, -1) {
		name, isParam := strings.CutPrefix(part, "{")
		if !isParam {
			re.WriteString(regexp.QuoteMeta(part))
			continue
		}
		name = strings.TrimSuffix(name, "}")
		p := d.param(t, ch, name)
		switch {
		case p.Default != "":
			re.WriteString("(?P<" + name + ">" + regexp.QuoteMeta(p.Default) + ")")
		case len(p.Enum) > 0:
			alts := make([]string, len(p.Enum))
			for i, v := range p.Enum {
				alts[i] = regexp.QuoteMeta(v)
			}
			re.WriteString("(?P<" + name + ">" + strings.Join(alts, "|") + ")")
		case name == "task":
			// The document says so: the tokens that begin with _ are
			// the watcher's own (channel watcherEvents).
			re.WriteString("(?P<task>[^_.*>][^.*>]*)")
		default:
			re.WriteString("(?P<" + name + ">[^.*>]+)")
		}
	}
	return regexp.MustCompile("^" + re.String() + "$")
}

func kindStrings(ks ...diff.Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

func sameSet(t *testing.T, what string, doc, code []string) {
	t.Helper()
	for _, v := range code {
		if !slices.Contains(doc, v) {
			t.Errorf("%s: the code emits %q, docs/asyncapi.yaml lacks it", what, v)
		}
	}
	for _, v := range doc {
		if !slices.Contains(code, v) {
			t.Errorf("%s: docs/asyncapi.yaml names %q, the code never emits it", what, v)
		}
	}
}

// ownKinds are the kinds of the watcher's events about no task (the API,
// its Slack delivery, a store), as their constructors make them.
func ownKinds() []string {
	return kindStrings(diff.Degraded("", "auth", "", nil, 1).Kind, diff.Recovered("", "auth", nil, 1).Kind)
}

// heartbeatEnvelope is a heartbeat as the watcher builds it, of a replica
// that polls two projects, one not yet successfully.
func heartbeatEnvelope() notify.Envelope {
	now := time.Now()
	return notify.Heartbeat(prefix, region, now, event.HeartbeatData{
		Version: "(devel)", Replica: "host-1-0a1b2c3d", Started: now.Add(-time.Hour), Seq: 61, Replicas: 2,
		Projects: []event.HeartbeatProject{{ProjectID: project, Region: region, LastSuccess: &now}, {ProjectID: "p2"}},
	})
}

// TestAsyncAPIKindsMatchCode fails when a kind the code can emit is
// missing from the document (its messages, the kind parameters, the
// operations), or the document names one the code does not emit; the
// same for the outcomes and the watcher's own task tokens.
func TestAsyncAPIKindsMatchCode(t *testing.T) {
	d := readAsyncAPI(t)
	kinds := kindStrings(event.Kinds()...)

	sameSet(t, "components.messages", slices.Collect(maps.Keys(d.Components.Messages)), append(slices.Clone(kinds), string(event.Heartbeat)))
	for name, m := range d.Components.Messages {
		env := notify.Build(prefix, diff.Event{ID: "x", Kind: diff.Kind(name), TaskID: taskID, Curr: task("RUNNING")}, notify.Meta{ProjectID: project})
		if name == string(event.Heartbeat) {
			env = heartbeatEnvelope()
		}
		if m.Name != name {
			t.Errorf("message %s: name %q, want the kind", name, m.Name)
		}
		all := m.Payload.Schema.AllOf
		if len(all) != 2 || all[0].Ref != "./event.schema.json" {
			t.Errorf("message %s: payload must be allOf [$ref ./event.schema.json, the kind's constants], got %+v", name, all)
			continue
		}
		if got := all[1].Properties.Type.Const; got != env.Type {
			t.Errorf("message %s: type const %q, the code's type is %q", name, got, env.Type)
		}
		if got := all[1].Properties.Data.Properties.Kind.Const; got != name {
			t.Errorf("message %s: data.kind const %q", name, got)
		}
	}
	sameSet(t, "channels.taskEvents.parameters.kind", d.param(t, "taskEvents", "kind").Enum, kinds)
	sameSet(t, "channels.taskEvents.messages", slices.Collect(maps.Keys(d.Channels["taskEvents"].Messages)), kinds)
	sameSet(t, "channels.watcherEvents.parameters.watcherKind", d.param(t, "watcherEvents", "watcherKind").Enum, ownKinds())
	sameSet(t, "channels.watcherEvents.messages", slices.Collect(maps.Keys(d.Channels["watcherEvents"].Messages)), ownKinds())
	sameSet(t, "channels.heartbeats.messages", slices.Collect(maps.Keys(d.Channels["heartbeats"].Messages)), []string{string(event.Heartbeat)})

	var outcomes []string
	for _, o := range event.Outcomes() {
		outcomes = append(outcomes, string(o))
	}
	sameSet(t, "parameters.outcome", d.param(t, "taskEvents", "outcome").Enum, outcomes)
	sameSet(t, "channels.watcherEvents.parameters.watcherTask", d.param(t, "watcherEvents", "watcherTask").Enum,
		[]string{event.NoTask, event.SlackTask, event.StoreTask})

	// Each channel has a send and a receive operation, each listing every
	// message of the channel.
	for ch, c := range d.Channels {
		for _, action := range []string{"send", "receive"} {
			found := false
			for name, op := range d.Operations {
				if op.Action != action || op.Channel.Ref != "#/channels/"+ch {
					continue
				}
				found = true
				var msgs []string
				for _, m := range op.Messages {
					msgs = append(msgs, strings.TrimPrefix(m.Ref, "#/channels/"+ch+"/messages/"))
				}
				sameSet(t, "operations."+name+".messages", msgs, slices.Collect(maps.Keys(c.Messages)))
			}
			if !found {
				t.Errorf("channel %s has no %s operation", ch, action)
			}
		}
	}
}

// TestAsyncAPISubjectsMatchCode builds the subject of every kind of event
// the code publishes, about a task in each kind of status and about no
// task (the API, the Slack delivery, a store), and checks that exactly one
// channel's address matches it, with the parameters the event's envelope
// says.
func TestAsyncAPISubjectsMatchCode(t *testing.T) {
	d := readAsyncAPI(t)
	taskRE, ownRE := d.addressRE(t, "taskEvents"), d.addressRE(t, "watcherEvents")

	type tc struct {
		ev   diff.Event
		want *regexp.Regexp
	}
	var cases []tc
	for _, k := range event.Kinds() {
		for _, st := range []string{"FULLMIGRATING", "INCRMIGRATING", "FAILED", "SUCCESS", "TERMINATED", "SOMETHING_NEW", ""} {
			cases = append(cases, tc{diff.Event{ID: "x", Kind: k, TaskID: taskID, Prev: task(st), Curr: task(st)}, taskRE})
		}
	}
	for _, scope := range []string{"", diff.ScopeSlack, diff.ScopeStore} {
		for _, ev := range []diff.Event{diff.Degraded("", "auth", "401", nil, 1), diff.Recovered("", "auth", nil, 1)} {
			ev.Scope = scope
			cases = append(cases, tc{ev, ownRE})
		}
	}
	// The heartbeat has a channel of its own, which no other event matches.
	beatRE := d.addressRE(t, "heartbeats")
	if hb := heartbeatEnvelope().NATSSubject; !beatRE.MatchString(hb) || taskRE.MatchString(hb) || ownRE.MatchString(hb) {
		t.Errorf("heartbeat subject %s: want a match of channel heartbeats (%s) only", hb, beatRE)
	}
	for _, c := range cases {
		env := notify.Build(prefix, c.ev, notify.Meta{ProjectID: project, ObservedAt: time.Now()})
		if beatRE.MatchString(env.NATSSubject) {
			t.Errorf("%s matches channel heartbeats", env.NATSSubject)
		}
		other := ownRE
		if c.want == ownRE {
			other = taskRE
		}
		m := c.want.FindStringSubmatch(env.NATSSubject)
		if m == nil {
			t.Errorf("%s (kind %s, scope %q): no match for %s", env.NATSSubject, c.ev.Kind, c.ev.Scope, c.want)
			continue
		}
		if other.MatchString(env.NATSSubject) {
			t.Errorf("%s matches both channels", env.NATSSubject)
		}
		got := map[string]string{}
		for i, name := range c.want.SubexpNames() {
			got[name] = m[i]
		}
		want := map[string]string{"prefix": prefix, "project": project}
		if c.want == taskRE {
			want["task"], want["kind"], want["outcome"] = env.Subject, string(env.Data.Kind), string(env.Data.Outcome)
			want["status"] = "NONE"
			if env.Data.CurrentStatus != nil && env.Data.CurrentStatus.Normalized != "" {
				want["status"] = env.Data.CurrentStatus.Normalized
			}
		} else {
			want["watcherTask"], want["watcherKind"] = env.Subject, string(env.Data.Kind)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: parameter %s = %q, the envelope says %q", env.NATSSubject, k, got[k], v)
			}
		}
	}
}

// TestAsyncAPIStreamMatchesDefaults checks the stream the document
// describes against the one the watcher creates by default.
func TestAsyncAPIStreamMatchesDefaults(t *testing.T) {
	d := readAsyncAPI(t)
	js, def := d.Components.JetStream, config.Default().NATS
	if js.Stream != def.Stream {
		t.Errorf("x-jetstream.stream %q, the default is %q", js.Stream, def.Stream)
	}
	if !slices.Equal(js.Subjects, []string{"{prefix}.>"}) || d.param(t, "taskEvents", "prefix").Default != def.SubjectPrefix {
		t.Errorf("x-jetstream.subjects %q with prefix %q, the stream is over %s.>", js.Subjects, d.param(t, "taskEvents", "prefix").Default, def.SubjectPrefix)
	}
	for what, c := range map[string]struct {
		doc  string
		want time.Duration
	}{"max_age": {js.MaxAge, def.MaxAge}, "duplicate_window": {js.DuplicateWindow, def.DuplicateWindow}} {
		got, err := time.ParseDuration(c.doc)
		if err != nil || got != c.want {
			t.Errorf("x-jetstream.%s %q, the default is %s", what, c.doc, c.want)
		}
	}
	if js.Retention != "limits" {
		t.Errorf("x-jetstream.retention %q, the stream's is limits", js.Retention)
	}
	if major, _, _ := strings.Cut(d.Info.Version, "."); !strings.HasSuffix(notify.Build(prefix, diff.Event{Kind: diff.Changed}, notify.Meta{}).Type, ".v"+major) {
		t.Errorf("info.version %s: its major version must be the events' type version", d.Info.Version)
	}
}

// TestAsyncAPIPayloadsAcceptEvents compiles each message's payload schema
// as the document writes it (docs/event.schema.json by $ref, and the kind's
// constants) and validates an envelope of every kind as the code builds
// it: its own message accepts it, every other kind's message refuses it,
// and its own refuses it with an id the envelope's schema forbids.
func TestAsyncAPIPayloadsAcceptEvents(t *testing.T) {
	b, err := os.ReadFile(asyncAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Components struct {
			Messages map[string]struct {
				Payload struct {
					Schema any `yaml:"schema"`
				} `yaml:"payload"`
			} `yaml:"messages"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Abs(filepath.Dir(asyncAPIPath))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	schemas := map[string]*jsonschema.Schema{}
	for kind, m := range raw.Components.Messages {
		// A resource beside the document, so that ./event.schema.json
		// resolves as the AsyncAPI parser resolves it.
		url := "file://" + filepath.ToSlash(filepath.Join(dir, "asyncapi.yaml.message."+kind+".json"))
		js, err := json.Marshal(m.Payload.Schema)
		if err != nil {
			t.Fatalf("message %s: %v", kind, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			t.Fatalf("message %s: %v", kind, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("message %s: %v", kind, err)
		}
		if schemas[kind], err = c.Compile(url); err != nil {
			t.Fatalf("message %s: compile its payload: %v", kind, err)
		}
	}
	for _, k := range append(event.Kinds(), event.Heartbeat) {
		ev := diff.Event{ID: "8ce4c1f8bf558b8df92c84d6e886ce89", Kind: k, TaskID: taskID, Prev: task("RUNNING"), Curr: task("FULLMIGRATING")}
		env := notify.Build(prefix, ev, notify.Meta{Region: region, ProjectID: project, ObservedAt: time.Now()})
		if k == event.Heartbeat {
			env = heartbeatEnvelope()
		}
		for kind, sch := range schemas {
			err := validate(t, sch, env)
			switch {
			case kind == string(k) && err != nil:
				t.Errorf("message %s refuses an envelope of its kind: %v", kind, err)
			case kind != string(k) && err == nil:
				t.Errorf("message %s accepts an envelope of kind %s", kind, k)
			}
		}
		// The envelope's schema is in force too: an id that is not one.
		bad := env
		bad.ID = "not-an-event-id"
		if err := validate(t, schemas[string(k)], bad); err == nil {
			t.Errorf("message %s accepts an envelope whose id is %q: event.schema.json is not applied", k, bad.ID)
		}
	}
}

// TestAsyncAPIValidates runs the AsyncAPI parser (tools/asyncapi, npm
// @asyncapi/parser) on the document: the document's own rules and every
// schema it references, docs/event.schema.json included. It skips when
// Node or the installed parser is missing, unless WATCHER_REQUIRE_ASYNCAPI
// is set (CI).
func TestAsyncAPIValidates(t *testing.T) {
	node, err := exec.LookPath("node")
	missing := ""
	switch {
	case err != nil:
		missing = "node is not on PATH"
	default:
		if _, err := os.Stat(filepath.Join(validatorDir, "node_modules", "@asyncapi", "parser", "package.json")); err != nil {
			missing = "the AsyncAPI parser is not installed (run npm ci in tools/asyncapi)"
		}
	}
	if missing != "" {
		if os.Getenv(requireParser) != "" {
			t.Fatalf("%s, and %s is set", missing, requireParser)
		}
		t.Skipf("cannot validate docs/asyncapi.yaml: %s", missing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	doc, err := filepath.Abs(asyncAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, "validate.mjs", doc)
	cmd.Dir = validatorDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the AsyncAPI parser rejects docs/asyncapi.yaml (%v):\n%s", err, out)
	}
	t.Logf("%s", out)
}
