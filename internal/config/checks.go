package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/diff"
)

// FieldError is one problem found by Validate. Key is the YAML key path
// ("poll.task_ids[1]"); Msg never holds a secret value.
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// problems collects every FieldError, so that one run of the validate command
// shows them all instead of one per edit.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// checkHTTPURL checks a base URL that is not a secret but might carry one in
// its user-info part; such a value is refused without being echoed.
func checkHTTPURL(p *problems, key, raw string) {
	if strings.Contains(raw, "@") {
		p.add(key, "must not carry credentials (user:password@)")
		return
	}
	if !isHTTPURL(raw) {
		p.add(key, "invalid URL %q: want http(s)://host[:port]", raw)
	}
}

func isHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// isLocalSimulator reports whether endpoint is a plain-HTTP URL on a loopback
// host: the DCS simulator of demo and tests, never the real API (HTTPS only).
func isLocalSimulator(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkNATSURL checks a comma-separated list of servers, as nats.Connect takes
// it. Credentials belong in nats.token or nats.creds_file, which are redacted;
// a URL is a plain string and would show in every dump, so user-info is refused.
func checkNATSURL(p *problems, key, raw string) {
	for i, s := range strings.Split(raw, ",") {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "@") {
			p.add(key, "server %d must not carry credentials (user:password@): use nats.token or nats.creds_file", i+1)
			continue
		}
		full := s
		if !strings.Contains(s, "://") {
			full = "nats://" + s // as nats.go does
		}
		u, err := url.Parse(full)
		if err != nil || u.Host == "" || !oneOf(u.Scheme, "nats", "tls", "ws", "wss") {
			p.add(key, "invalid server URL %q (want nats://host:port, comma-separated for a cluster)", s)
		}
	}
}

func checkListen(p *problems, key, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		p.add(key, "invalid address %q: want host:port (port 0 picks a free port)", addr)
	}
}

// checkSubjectPrefix requires dot-separated tokens that can be published to:
// no empty token, no wildcard, no whitespace.
func checkSubjectPrefix(p *problems, key, prefix string) {
	if prefix == "" {
		p.add(key, "required (e.g. dcs.migration)")
		return
	}
	for _, tok := range strings.Split(prefix, ".") {
		if tok == "" || strings.ContainsAny(tok, "*> \t\r\n") {
			p.add(key, "invalid subject prefix %q: dot-separated tokens, none empty, no *, > or whitespace", prefix)
			return
		}
	}
}

// checkName applies the strictest of the JetStream rules for stream, consumer
// and KV bucket names, so one rule fits all three.
func checkName(p *problems, key, name string) {
	if name == "" {
		p.add(key, "required")
		return
	}
	if !isToken(name, true) {
		p.add(key, "invalid name %q (letters, digits, - and _ only)", name)
	}
}

// isToken reports whether s is non-empty and made of ASCII letters, digits,
// '-' and, when underscore is true, '_'.
func isToken(s string, underscore bool) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
		case r == '_' && underscore:
		default:
			return false
		}
	}
	return true
}

func oneOf(s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}

// kindProblem says what is wrong with kind k where Slack's kinds are
// named (slack.kinds, a route's match.kinds); "" when nothing is.
func kindProblem(k string) string {
	switch {
	case slices.Contains(diff.Kinds(), diff.Kind(k)):
		return ""
	case k == string(event.Heartbeat):
		return fmt.Sprintf("kind %q is the watcher's own liveness event (heartbeat.every, docs/heartbeat.md): it is never posted to Slack", k)
	}
	return fmt.Sprintf("unknown kind %q (want one of %s)", k, kindList())
}

func kindList() string {
	names := make([]string, 0, len(diff.Kinds()))
	for _, k := range diff.Kinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// checkTaskIDs checks a list of task ids written at key.
func checkTaskIDs(p *problems, key string, ids []string) {
	seen := make(map[string]int, len(ids))
	for i, id := range ids {
		k := fmt.Sprintf("%s[%d]", key, i)
		if !isToken(id, false) {
			p.add(k, "invalid task id %q (letters, digits and - only)", id)
			continue
		}
		if j, dup := seen[id]; dup {
			p.add(k, "duplicate task id %q (also %s[%d])", id, key, j)
			continue
		}
		seen[id] = i
	}
}
