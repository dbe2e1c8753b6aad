package delivery

import "time"

const (
	// ackWait is how long JetStream waits for an ack before it redelivers
	// to another replica, once this one has stopped telling it (every
	// ackWait/3, see keepAlive) that it still works on a batch. Pacing,
	// Retry-After, backoff and sends can hold a batch far longer: the
	// keep-alive, not ackWait, covers them, so ackWait stays short and a
	// crashed replica's batch is taken over within it.
	ackWait = 30 * time.Second
	// shutdownGrace lets a send in flight when Run's ctx ends finish, so a
	// message Slack has just received is marked and acked rather than
	// posted again by the next instance.
	shutdownGrace = 5 * time.Second
	// finishTimeout bounds writing the mark and the ack, which must happen
	// even while shutting down.
	finishTimeout = 5 * time.Second
	// marksTTL is how long a delivery mark is kept: far longer than any
	// redelivery can take (ackWait), short enough to keep the bucket small.
	marksTTL = 7 * 24 * time.Hour
)

// The delivery lease (see turn.go).
const (
	// leaseTTL is how long a holder that stops renewing (a crash, a lost
	// connection) keeps the lease: the others take over after it, plus
	// leaseSkew, and fetch after that plus ackWait (see acquire).
	leaseTTL = 15 * time.Second
	// leaseSkew is how far the replicas' clocks may disagree: the lease
	// record carries the holder's wall-clock expiry, judged by the
	// others' clocks.
	leaseSkew = 2 * time.Second
)
