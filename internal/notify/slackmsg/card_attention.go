package slackmsg

import (
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// cardAttention is an open attention episode as the card shows it: what
// it is (notify's What, unescaped) and since when.
type cardAttention struct {
	Episode uint64    `json:"episode"`
	What    string    `json:"what"`
	Since   time.Time `json:"since"`
}

// applyAttention keeps the card's open episodes: a stalled event adds its
// episode, its resumed event takes it away, and a task removed has none.
func (r *Card) applyAttention(d notify.Data) {
	switch {
	case d.Kind == diff.Removed:
		r.Attention = nil
	case d.Attention == nil:
	case d.Kind == diff.Stalled:
		if !slices.ContainsFunc(r.Attention, func(a cardAttention) bool { return a.Episode == d.Attention.Episode }) {
			r.Attention = append(r.Attention, cardAttention{Episode: d.Attention.Episode, What: d.What(nil), Since: d.Attention.Since.UTC()})
		}
	case d.Kind == diff.Resumed:
		r.Attention = slices.DeleteFunc(r.Attention, func(a cardAttention) bool { return a.Episode == d.Attention.Episode })
		if len(r.Attention) == 0 {
			r.Attention = nil
		}
	}
}

// cardKind is the kind the card's header emoji is chosen by: stalled while
// an episode is open; the status's own once it closed (a resumed card
// shows its status, not the recovery).
func cardKind(r *Card) diff.Kind {
	switch {
	case len(r.Attention) > 0:
		return diff.Stalled
	case r.Kind == diff.Stalled || r.Kind == diff.Resumed:
		return diff.StatusChanged
	}
	return r.Kind
}

// attentionBlock says on the card what needs a look, one line per open
// episode; nil when none is open.
func attentionBlock(r *Card) slack.Block {
	if len(r.Attention) == 0 {
		return nil
	}
	lines := []string{"*Needs a look*"}
	for _, a := range r.Attention {
		lines = append(lines, emojiStalled+" "+escClip(a.What, maxName)+" since "+a.Since.Format("Jan 2 15:04")+" UTC")
	}
	return slack.NewSectionBlock(md(clipEscaped(strings.Join(lines, "\n"), maxSectionText)), nil, nil)
}

// HasLogTail says whether an event brings a log tail for a reply in the
// card's thread (its lines, or why the logs call failed).
func HasLogTail(d notify.Data) bool { return logTailBlock(d) != nil }

// logTailBlock is a failure's or a stall's last ERROR log lines for a
// reply in the card's thread; nil when the event has none.
func logTailBlock(d notify.Data) slack.Block {
	switch {
	case len(d.LogTail) > 0:
		return codeSection("Last ERROR log lines, newest first", logTailText(d.LogTail))
	case d.LogTailError != "":
		return slack.NewSectionBlock(md(clipEscaped("_no log lines: the logs call failed ("+escape(d.LogTailError)+")_", maxSectionText)), nil, nil)
	}
	return nil
}
