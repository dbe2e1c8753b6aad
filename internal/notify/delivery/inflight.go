package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// sendContext gives a send its own deadline, timeout, and lets it outlive
// ctx by shutdownGrace.
func sendContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(shutdownGrace, cancel) })
	return sctx, func() { stop(); cancel() }
}

// keepAlive tells JetStream every interval that the batch is still being
// worked on (InProgress resets its ack timer): pacing at 1 message per
// second, a Retry-After or a long backoff can hold a batch far longer than
// ackWait, and a redelivery then would hand its events to another replica
// while this one still sends them. The returned func stops it.
func keepAlive(msgs []jetstream.Msg, every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, m := range msgs {
					// One already acked answers ErrMsgAlreadyAckd without a
					// round trip.
					_ = m.InProgress()
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// handBack naks every event of the batch not yet acked or terminated, so
// that the next instance gets them at once instead of after ackWait.
func handBack(msgs []jetstream.Msg) {
	for _, m := range msgs {
		_ = m.Nak()
	}
}
