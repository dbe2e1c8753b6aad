package broker

import (
	"net/url"
	"strings"
)

// redactURL hides user info in each of a comma-separated list of NATS URLs.
func redactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p != "" && !strings.Contains(p, "://") {
			// nats.go reads "user:pass@host" as a nats:// URL; url.Parse
			// would take "user" for a scheme and find no user info to hide.
			p = "nats://" + p
		}
		u, err := url.Parse(p)
		if err != nil || u.User == nil && strings.Contains(p, "@") {
			// An '@' the parser did not take for user info follows a
			// password holding '/', '?' or '#' unescaped ("user:12/x@h"
			// parses as host "user", port 12): the text after it is the
			// password's tail, so none of the URL is shown.
			parts[i] = "<unparsable url>"
			continue
		}
		if u.User == nil {
			continue
		}
		u.User = url.User("redacted")
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
