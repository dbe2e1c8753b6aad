package poller

import (
	"context"
	"slices"
	"time"

	"github.com/dcs-watcher/watcher/internal/attention"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/state"
)

// attend judges the attention episodes of every task this process has
// seen, once its cycle's answers are in (the stats calls too): an episode
// that opens is a stalled event, one that clears a resumed event, each
// committed with the record that keeps the episodes, through the outbox.
// A cycle that could not see the API judges nothing: its knowledge of the
// tasks is stale, and blindness has its own events. A task blind on its
// own is skipped alike.
func (c *cycle) attend(ctx context.Context) {
	if c.held.Load() || c.apiErr != nil || c.apiWasBlind || ctx.Err() != nil {
		return
	}
	// Judged in place (no copy of every entry), reported after: a report
	// writes to the store.
	var due []string
	c.p.st.Each(c.p.o.ProjectID, func(ent state.Entry) {
		id := ent.Task.ID
		c.p.attn.forgetTail(id, ent.Revision)
		if !c.p.observed.has(id) || ent.Blind != nil {
			return
		}
		if c.p.judge(ent, c.p.sampled(id, c.now), c.now).Changed() {
			due = append(due, id)
		}
	})
	slices.Sort(due)
	for _, id := range due {
		c.addErr(c.reportAttention(ctx, id))
	}
}

// judge is the detector's verdict on a task's stored entry at now.
func (p *Poller) judge(ent state.Entry, samples []attention.Sample, now time.Time) attention.Result {
	return attention.Detect(p.o.Attention, attention.Task{
		Now: now, Status: ent.Task.NormStatus(), StatusSince: ent.StatusSince, Removed: ent.Removed,
		Samples: samples, Open: ent.Attention, Episodes: ent.AttentionEpisodes,
	})
}

// reportAttention commits what changed in a task's episodes: judged again
// on its entry as the outbox loads it (settled, read again after a failed
// write), so that what is committed is what that record says.
func (c *cycle) reportAttention(ctx context.Context, id string) error {
	ent, err := c.load(ctx, id)
	if err != nil || ent.Task == nil {
		return err
	}
	r := c.p.judge(ent, c.p.attn.samplesOf(id), c.now)
	if !r.Changed() {
		return nil
	}
	events := make([]diff.Event, 0, len(r.Cleared)+len(r.Opened))
	for _, a := range r.Cleared {
		events = append(events, diff.ResumedEvent(id, a, ent.Task))
	}
	for _, a := range r.Opened {
		events = append(events, diff.StalledEvent(id, a, ent.Task))
	}
	rec := ent.Record
	rec.Attention, rec.AttentionEpisodes = r.Open, r.Episodes
	c.p.o.Logger.Info().Str("task_id", id).Int("opened", len(r.Opened)).Int("cleared", len(r.Cleared)).Msg("attention episodes")
	return c.commit(ctx, c.now, id, ent, rec, events, "")
}

// sampled is the task's samples of the attention window ending at now,
// its last stats answer added.
func (p *Poller) sampled(id string, now time.Time) []attention.Sample {
	st, at, ok := p.prog.get(id)
	return p.attn.sampled(id, st, at, ok, now, p.o.Attention.Window())
}
