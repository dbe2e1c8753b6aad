package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/event"
	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// noProject stands for the project in health events when none is
// configured.
const noProject = event.WatcherProject

// episodeKey keeps the dead-destination episode under way in the marks
// bucket, so that a restart neither announces it again nor forgets to
// announce its end. Mark keys never hold a '.', so it cannot meet one.
const episodeKey = "episode.dead_destination"

// episode is a spell during which Slack answers that the destination is
// dead (slackwire.ErrDeadDestination). Its events stay unacked in the stream; the
// oldest message probes every DeadRetry.
type episode struct {
	Since time.Time `json:"since"`
	// StreamSeq is the first event of the message that found the
	// destination dead; it names the episode (see healthID).
	StreamSeq uint64 `json:"stream_seq"`
	Reason    string `json:"reason"`
	// Announced says its watch_degraded event is stored in the stream.
	Announced bool `json:"announced"`
}

// Publisher publishes the notifier's health events on the stream, where an
// operator's consumer sees them; *notify.Publisher is one.
type Publisher interface {
	Envelope(ev diff.Event, m notify.Meta) notify.Envelope
	Publish(ctx context.Context, env notify.Envelope) error
}

// outage is a lane's dead-destination episode under way, nil while the
// destination works, and what it needs to record and announce one. Only
// the lane's goroutine uses it; it outlives the lane's consumer sessions.
type outage struct {
	current *episode
	// key is where the episode is kept in the marks bucket.
	key string
	// consumer names the lane in its health events' ids (healthID).
	consumer  string
	health    Publisher
	project   string
	deadRetry time.Duration
	now       func() time.Time
	log       zerolog.Logger
}

// resume takes up an episode a previous run left open in kv: it is
// neither logged as an error nor announced again, and its end is
// announced.
func (o *outage) resume(ctx context.Context, kv jetstream.KeyValue) {
	if o.current != nil {
		return
	}
	e, err := kv.Get(ctx, o.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return
	}
	var ep episode
	if err == nil {
		err = json.Unmarshal(e.Value(), &ep)
	}
	if err != nil {
		o.log.Warn().Err(err).Msg("slack: cannot read the dead-destination episode left by the last run; a new one would be announced again")
		return
	}
	o.current = &ep
	o.log.Warn().Time("dead_since", ep.Since).Str("reason", ep.Reason).
		Msg("slack: the destination was dead at the last stop; probing it with the oldest event")
}

// destinationDead deals with an answer that says the destination is dead,
// to the message whose first event is seq.
// The first of an episode logs one error and publishes one watch_degraded
// event (tried again at each probe until it is stored); the probes after
// it fail quietly. Nothing is acked or terminated: the caller holds the
// message and probes again after DeadRetry.
func (o *outage) destinationDead(ctx context.Context, kv jetstream.KeyValue, seq uint64, log zerolog.Logger, err error) {
	if o.current == nil {
		o.current = &episode{Since: o.now().UTC(), StreamSeq: seq, Reason: err.Error()}
		log.Error().Err(err).Dur("probe_every", o.deadRetry).
			Msg("slack: destination is dead (webhook revoked, channel archived or alike); events wait in the stream, in order, while the oldest probes")
		o.save(ctx, kv)
	} else {
		log.Debug().Err(err).Msg("slack: destination still dead")
	}
	if o.current.Announced {
		return
	}
	if err := o.announce(ctx, diff.WatchDegraded, o.current.Reason); err != nil {
		log.Warn().Err(err).Msg("slack: could not publish watch_degraded for the dead destination; trying again at the next probe")
		return
	}
	o.current.Announced = true
	o.save(ctx, kv)
}

// revived ends the episode under way, if any, and says whether there was
// one: Slack answered about a message (took it, or refused that message
// alone), so the destination works. One info line and one
// watch_recovered event.
func (o *outage) revived(ctx context.Context, kv jetstream.KeyValue, log zerolog.Logger) bool {
	ep := o.current
	if ep == nil {
		return false
	}
	log.Info().Time("dead_since", ep.Since).Dur("outage", o.now().Sub(ep.Since)).
		Msg("slack: destination works again; the waiting events follow in stream order")
	if err := o.announce(ctx, diff.WatchRecovered, "recovered from "+ep.Reason); err != nil {
		log.Warn().Err(err).Msg("slack: could not publish watch_recovered for the destination")
	}
	o.current = nil
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := kv.Delete(fctx, o.key); err != nil {
		log.Warn().Err(err).Msg("slack: could not clear the dead-destination episode; a restart would announce its end again")
	}
	return true
}

func (o *outage) save(ctx context.Context, kv jetstream.KeyValue) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	val, _ := json.Marshal(o.current)
	if _, err := kv.Put(fctx, o.key, val); err != nil {
		o.log.Warn().Err(err).Msg("slack: could not record the dead-destination episode; a restart would announce it again")
	}
}

// announce publishes a health event of kind about the Slack delivery:
// scope slack, task token _slack, so "<prefix>.*._slack.>" selects them,
// and the consumer skips them (admit) rather than post them to the very
// destination they are about.
func (o *outage) announce(ctx context.Context, kind diff.Kind, reason string) error {
	if o.health == nil {
		return nil
	}
	project := o.project
	if project == "" {
		project = noProject
	}
	ev := diff.Event{ID: o.healthID(kind), Kind: kind, Scope: diff.ScopeSlack, Reason: reason}
	env := o.health.Envelope(ev, notify.Meta{ProjectID: project, ObservedAt: o.now()})
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	return o.health.Publish(pctx, env)
}

// healthID is deterministic, like every event id: the consumer, the kind
// and the episode's first stream sequence. A restart that finds the same
// destination dead on the same event (its episode record lost) publishes
// the same id, which JetStream drops as a duplicate.
func (o *outage) healthID(kind diff.Kind) string {
	sum := sha256.Sum256([]byte(o.consumer + "\x00" + string(kind) + "\x00" + strconv.FormatUint(o.current.StreamSeq, 10)))
	return hex.EncodeToString(sum[:16])
}

// ownHealth says whether an event is the Slack delivery's own health
// event: never posted, it would only go to the destination it is about.
func ownHealth(d notify.Data) bool { return d.Scope == diff.ScopeSlack }
