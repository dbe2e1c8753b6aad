package slackapi

import (
	"testing"

	"github.com/slack-go/slack"
)

// TestRepliesPages: slack-go's client pages a thread through the fake with
// the cursor as it does through Slack: parent first on the first page,
// has_more and next_cursor until the end, oldest bounding the range.
func TestRepliesPages(t *testing.T) {
	s := New(t, "xoxb-test", map[string]string{"#c": "C1"})
	api := slack.New("xoxb-test", slack.OptionAPIURL(s.URL()))
	_, parent, err := api.PostMessage("C1", slack.MsgOptionText("parent", false))
	if err != nil {
		t.Fatal(err)
	}
	var ts []string
	for range 5 {
		_, r, err := api.PostMessage("C1", slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent))
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, r)
	}
	var got []string
	cursor, pages := "", 0
	for {
		msgs, more, next, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parent, Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, m := range msgs {
			got = append(got, m.Timestamp)
		}
		if !more {
			if next != "" {
				t.Errorf("last page has next_cursor %q", next)
			}
			break
		}
		cursor = next
	}
	want := append([]string{parent}, ts...)
	if len(got) != len(want) || pages != 3 {
		t.Fatalf("read %v in %d pages, want %v in 3", got, pages, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d = %s, want %s", i, got[i], want[i])
		}
	}
	msgs, more, _, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parent, Oldest: ts[3], Inclusive: true, Limit: 5000})
	if err != nil || more || len(msgs) != 3 || msgs[0].Timestamp != parent || msgs[1].Timestamp != ts[3] {
		t.Errorf("from oldest %s: %d messages (more %v, err %v), want the parent and the last 2", ts[3], len(msgs), more, err)
	}
	if _, _, _, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parent, Cursor: "bogus"}); err == nil || err.Error() != "invalid_cursor" {
		t.Errorf("bogus cursor: %v, want invalid_cursor", err)
	}
}
