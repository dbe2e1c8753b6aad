package dcs

import (
	"regexp"
	"strings"
)

// secretMark replaces a scrubbed value.
const secretMark = "<secret>"

var (
	// urlUserinfo: scheme://user:password@ (the user is kept; the password
	// runs to the last @, which it may hold).
	urlUserinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@"']*):[^\s/"']+@`)

	// assignment: a password- or key-like name, then = or :, then a value,
	// quoted ("password":"x", password='x') or bare (pwd: x, sk=x). The
	// name must be a whole word, so password_set or passed do not match.
	assignment = regexp.MustCompile(`(?i)(\b(?:password|passwd|passwort|pwd|pass|requirepass|masterauth|secret|` +
		`secret[_-]?key|secret[_-]?access[_-]?key|access[_-]?key(?:[_-]?id)?|api[_-]?key|private[_-]?key|` +
		`sk|ak|token|auth[_-]?token|access[_-]?token|security[_-]?token|x-auth-token|x-security-token|credentials?)` +
		`\b["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&"'})\]]+)`)

	// directive: the Redis settings that take a password after a space,
	// and the redis-cli flags that do.
	directive = regexp.MustCompile(`(?i)(\b(?:requirepass|masterauth)\s+|(?:^|\s)(?:-a|--pass|--password|--askpass)\s+)("[^"]*"|'[^']*'|[^\s,;"')\]]+)`)

	// authCommand: the Redis AUTH command (upper case, as Redis writes
	// it) and its one or two arguments: the first always goes; the second
	// too when it ends the clause ("AUTH default s3cret"), not when the
	// sentence reads on ("AUTH s3cret and closed" keeps "and").
	authCommand = regexp.MustCompile(`\bAUTH\s+("[^"]*"|'[^']*'|[^\s,;"')\]]+)(\s+[^\s,;"')\]]+)?([\s,;"')\]]|$)`)

	// keyToken: a long base64 or hex run after a key word ("access key
	// Q0FGRTEyMzQ1Njc4OTA", "secret is 9f86d081884c7d65..."). The run is a
	// whole token: "key orders:20240101000000001" (a Redis key) stays.
	keyToken = regexp.MustCompile(`(?i)(\b(?:keys?|secrets?|tokens?|ak|sk|credentials?)\b(?:\s+(?:id|is|was|of))?[\s:=]+["']?)` +
		`([A-Za-z0-9+/_-]{16,}={0,2})([\s,;"')\]]|[.]?$|[.]\s)`)
)

// ScrubSecrets returns text with every password- or key-looking value
// replaced by "<secret>": password=x, pwd: x, "password":"x", requirepass
// x, AUTH x, redis://user:x@host, and long base64 or hex runs after the
// words key, secret, token, ak, sk. It is meant for text the API or a Redis
// wrote (log lines, error messages) before it reaches a log, an event or
// Slack; it errs on the side of hiding. Ordinary text, host:port pairs and
// task ids are left as they are.
func ScrubSecrets(text string) string {
	if text == "" {
		return text
	}
	text = urlUserinfo.ReplaceAllString(text, "${1}:"+secretMark+"@")
	text = assignment.ReplaceAllStringFunc(text, func(m string) string {
		sub := assignment.FindStringSubmatch(m)
		return sub[1] + quoted(sub[2])
	})
	text = directive.ReplaceAllStringFunc(text, func(m string) string {
		sub := directive.FindStringSubmatch(m)
		return sub[1] + quoted(sub[2])
	})
	text = authCommand.ReplaceAllStringFunc(text, func(m string) string {
		sub := authCommand.FindStringSubmatch(m)
		if authWords[strings.ToLower(strings.TrimRight(sub[1], ":."))] {
			return m // "AUTH failed: ...", about the command, not its argument
		}
		out := "AUTH " + quoted(sub[1])
		if second := sub[2]; second != "" {
			if sub[3] == "" || strings.ContainsAny(sub[3], ",;\"')]") {
				out += " " + secretMark // AUTH user password
			} else {
				out += second // AUTH password, then the sentence goes on
			}
		}
		return out + sub[3]
	})
	return keyToken.ReplaceAllStringFunc(text, func(m string) string {
		sub := keyToken.FindStringSubmatch(m)
		if !looksRandom(sub[2]) {
			return m
		}
		return sub[1] + secretMark + sub[3]
	})
}

// authWords are words that follow AUTH in a sentence about the command.
var authWords = map[string]bool{
	"failed": true, "failure": true, "error": true, "errors": true, "ok": true, "required": true,
	"refused": true, "rejected": true, "denied": true, "timeout": true, "succeeded": true, "command": true,
}

// quoted replaces a value and keeps its quotes.
func quoted(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[:1] + secretMark + v[:1]
	}
	if v == secretMark {
		return v
	}
	return secretMark
}

// looksRandom tells a key or token from a word: it holds a digit, or it is
// too long to be one.
func looksRandom(s string) bool {
	return strings.ContainsAny(s, "0123456789") || len(s) >= 32
}
