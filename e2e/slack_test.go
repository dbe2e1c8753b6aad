package e2e

import (
	"regexp"
	"testing"
	"time"

	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

// slackServer is the fake Slack webhook (testutil/slackhook) on every
// hook of the planted token, seen as these tests read it: the event ids
// of each accepted message.
type slackServer struct{ *slackhook.Server }

// slackPost is one message the webhook accepted.
type slackPost struct {
	at   time.Time // when the answer was written
	ids  []string  // event ids in its context blocks
	text string
	raw  string // the body as posted
}

var eventIDRe = regexp.MustCompile("event `([^`]+)`")

func newSlackServer(t *testing.T) *slackServer {
	return &slackServer{slackhook.Start(t, slackhook.Options{Token: webhookSecret})}
}

// all is every post accepted so far.
func (s *slackServer) all() []slackPost {
	var out []slackPost
	for _, p := range s.Accepted() {
		sp := slackPost{at: p.Answered, text: p.Msg.Text, raw: string(p.Body)}
		for _, m := range eventIDRe.FindAllStringSubmatch(sp.raw, -1) {
			sp.ids = append(sp.ids, m[1])
		}
		out = append(out, sp)
	}
	return out
}

func (s *slackServer) texts() []string { return s.Texts() }

func (s *slackServer) bodies() []string {
	var out []string
	for _, p := range s.Accepted() {
		out = append(out, string(p.Body))
	}
	return out
}
