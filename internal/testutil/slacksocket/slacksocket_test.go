package slacksocket

import (
	"context"
	"io"
	"log"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackapi"
)

// TestSocketModeClient: slack-go's own socketmode client connects through
// the fakes (apps.connections.open with the app token, then the
// websocket), sees hello, reads a pushed click as a block_actions
// interaction with its action, user and message, and its ack is recorded;
// a disconnect request makes it connect again; a wrong app token is
// refused.
func TestSocketModeClient(t *testing.T) {
	api := slackapi.New(t, "xoxb-test", map[string]string{"#oncall": "C0ONCALL"})
	fake := New(t, api, "xapp-1-test")
	client := socketmode.New(slack.New("xoxb-test", slack.OptionAPIURL(api.URL()), slack.OptionAppLevelToken("xapp-1-test")),
		socketmode.OptionLog(log.New(io.Discard, "", 0)))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = client.RunContext(ctx) }()

	hellos := make(chan struct{}, 4)
	clicks := make(chan slack.InteractionCallback, 4)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-client.Events:
				switch evt.Type {
				case socketmode.EventTypeHello:
					hellos <- struct{}{}
				case socketmode.EventTypeInteractive:
					client.Ack(*evt.Request)
					clicks <- evt.Data.(slack.InteractionCallback)
				}
			}
		}
	}()
	wait(t, hellos, "hello")
	id, err := fake.Click(Click{User: "U1", UserName: "ana", ActionID: "ack", Value: "v1", BlockID: "b1", Channel: "C0ONCALL", MessageTS: "1700000000.000100", Text: "card"})
	if err != nil {
		t.Fatal(err)
	}
	cb := wait(t, clicks, "the click")
	if cb.Type != slack.InteractionTypeBlockActions || cb.User.ID != "U1" || cb.Container.ChannelID != "C0ONCALL" || cb.Container.MessageTs != "1700000000.000100" {
		t.Errorf("click read as type %q user %q container %+v", cb.Type, cb.User.ID, cb.Container)
	}
	if acts := cb.ActionCallback.BlockActions; len(acts) != 1 || acts[0].ActionID != "ack" || acts[0].Value != "v1" || acts[0].BlockID != "b1" {
		t.Errorf("actions %+v, want one ack/v1/b1", acts)
	}
	testutil.Eventually(t, "the ack of "+id, func() bool { _, ok := fake.AckOf(id); return ok })

	if err := fake.Disconnect("refresh_requested"); err != nil {
		t.Fatal(err)
	}
	wait(t, hellos, "hello after disconnect")
	if n := fake.Opens(); n != 2 {
		t.Errorf("%d connections opened, want 2", n)
	}

	api2 := slackapi.New(t, "xoxb-test", nil)
	New(t, api2, "xapp-1-right")
	_, _, err = slack.New("xoxb-test", slack.OptionAPIURL(api2.URL()), slack.OptionAppLevelToken("xapp-1-wrong")).StartSocketModeContext(ctx)
	if err == nil || err.Error() != "invalid_auth" {
		t.Errorf("wrong app token: %v, want invalid_auth", err)
	}
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	var out T
	testutil.Eventually(t, what, func() bool {
		select {
		case out = <-ch:
			return true
		default:
			return false
		}
	})
	return out
}
