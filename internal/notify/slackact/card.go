package slackact

import (
	"context"

	"github.com/dcs-watcher/watcher/internal/notify/slackmsg"
)

// CardAttention is what the card r shows of its buttons and their clicks,
// for slackmsg.RenderCardWith: the buttons on, the console link, Silence
// left out without a silence store, and the acknowledgement and running
// silence of its incident. The Slack delivery calls it each time it draws
// a card; an error (the bucket unreadable) leaves the buttons on and the
// clicks unshown until the next draw.
func (l *Listener) CardAttention(ctx context.Context, r *slackmsg.Card) (slackmsg.Attention, error) {
	a, err := l.store.Attention(ctx, r.Project, r.TaskID, slackmsg.Incident(r), l.o.Now())
	a.Buttons, a.NoSilence = true, l.o.Silencer == nil
	if l.o.Console != nil {
		if u, cerr := l.o.Console.For(r.Region, r.Project, r.TaskID); cerr == nil {
			a.ConsoleURL = u
		}
	}
	return a, err
}
