package delivery

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/dcs-watcher/watcher/internal/retry"
)

// pacer spaces sends to Slack. A rate.Limiter (burst 1, so an idle spell
// does not buy a volley) lets a send start at most once per interval; on
// top of that, the next send waits one interval after Slack's answer to
// the previous one, and after a 429 until its Retry-After has passed.
// Slack counts a message when it arrives: spacing starts alone, network
// jitter lets two arrive less than an interval apart and earns a 429 (a
// test against a token-bucket sink saw several in a few seconds); spacing
// from the answer keeps arrivals an interval apart at the cost of one
// round trip per message. It uses the wall clock, not Options.Now: it
// waits in real time.
type pacer struct {
	lim      *rate.Limiter
	interval time.Duration
	mu       sync.Mutex
	// until is when the last answer (or 429) allows the next send.
	until time.Time
}

func newPacer(perSecond float64) *pacer {
	return &pacer{
		lim:      rate.NewLimiter(rate.Limit(perSecond), 1),
		interval: time.Duration(float64(time.Second) / perSecond),
	}
}

// answered holds the next send back for one interval after Slack's
// answer, whatever it was.
func (p *pacer) answered() { p.holdOff(p.interval) }

// wait blocks until a message may be sent now and takes its turn. It
// returns an error only when ctx ends first.
func (p *pacer) wait(ctx context.Context) error {
	if err := retry.SleepUntil(ctx, p.heldUntil()); err != nil {
		return err
	}
	if err := p.lim.Wait(ctx); err != nil {
		return fmt.Errorf("pace slack messages: %w", err)
	}
	return nil
}

// ready blocks until a message could be sent, without taking the turn.
// The consumer waits here before it gathers a batch, so that events
// arriving while the previous message's interval runs join the batch
// instead of waiting for the next one.
func (p *pacer) ready(ctx context.Context) error {
	if err := retry.SleepUntil(ctx, p.heldUntil()); err != nil {
		return err
	}
	tokens := p.lim.Tokens()
	if tokens >= 1 {
		return nil
	}
	missing := time.Duration((1 - tokens) / float64(p.lim.Limit()) * float64(time.Second))
	return retry.SleepUntil(ctx, time.Now().Add(missing))
}

// holdOff keeps every send back for d, as a 429's Retry-After asks: without
// it the limiter would allow the next send at once and earn another 429.
func (p *pacer) holdOff(d time.Duration) {
	until := time.Now().Add(d)
	p.mu.Lock()
	defer p.mu.Unlock()
	if until.After(p.until) {
		p.until = until
	}
}

func (p *pacer) heldUntil() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.until
}
