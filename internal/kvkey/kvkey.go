// Package kvkey turns arbitrary strings (project ids, task ids, region
// names, replica names) into tokens of JetStream KV keys, which allow only
// letters, digits, '-', '_' and '=' between their dots. The snapshot store
// and the lease store both build their keys from it, so one id always
// gives one token.
package kvkey

import "strings"

// Token is s with every character a KV key does not allow replaced by
// '_'; "" becomes "_" (a key has no empty token).
func Token(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '=':
			return r
		}
		return '_'
	}, s)
}
