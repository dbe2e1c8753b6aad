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

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
)

// noProject stands for the project in health events when none is
// configured.
const noProject = "_watcher"

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

// resume takes up an episode a previous run left open: it is neither
// logged as an error nor announced again, and its end is announced.
func (s *session) resume(ctx context.Context) {
	if s.episode != nil {
		return
	}
	e, err := s.kv.Get(ctx, s.episodeKey())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return
	}
	var ep episode
	if err == nil {
		err = json.Unmarshal(e.Value(), &ep)
	}
	if err != nil {
		s.o.Logger.Warn().Err(err).Msg("slack: cannot read the dead-destination episode left by the last run; a new one would be announced again")
		return
	}
	s.episode = &ep
	s.o.Logger.Warn().Time("dead_since", ep.Since).Str("reason", ep.Reason).
		Msg("slack: the destination was dead at the last stop; probing it with the oldest event")
}

// destinationDead deals with an answer that says the destination is dead.
// The first of an episode logs one error and publishes one watch_degraded
// event (tried again at each probe until it is stored); the probes after
// it fail quietly. Nothing is acked or terminated: the caller holds the
// message and probes again after DeadRetry.
func (s *session) destinationDead(ctx context.Context, p outgoing, log zerolog.Logger, err error) {
	s.retried.Add(1)
	if s.episode == nil {
		s.episode = &episode{Since: s.o.Now().UTC(), StreamSeq: p.items[0].seq, Reason: err.Error()}
		s.dead.Add(1)
		log.Error().Err(err).Dur("probe_every", s.o.DeadRetry).
			Msg("slack: destination is dead (webhook revoked, channel archived or alike); events wait in the stream, in order, while the oldest probes")
		s.saveEpisode(ctx)
	} else {
		log.Debug().Err(err).Msg("slack: destination still dead")
	}
	if s.episode.Announced {
		return
	}
	if err := s.announce(ctx, diff.WatchDegraded, s.episode.Reason); err != nil {
		log.Warn().Err(err).Msg("slack: could not publish watch_degraded for the dead destination; trying again at the next probe")
		return
	}
	s.episode.Announced = true
	s.saveEpisode(ctx)
}

// revived ends the episode under way, if any: Slack answered about a
// message (took it, or refused that message alone), so the destination
// works. One info line and one watch_recovered event.
func (s *session) revived(ctx context.Context, log zerolog.Logger) {
	ep := s.episode
	if ep == nil {
		return
	}
	log.Info().Time("dead_since", ep.Since).Dur("outage", s.o.Now().Sub(ep.Since)).
		Msg("slack: destination works again; the waiting events follow in stream order")
	if err := s.announce(ctx, diff.WatchRecovered, "recovered from "+ep.Reason); err != nil {
		log.Warn().Err(err).Msg("slack: could not publish watch_recovered for the destination")
	}
	s.episode = nil
	// The failure is over: accepted must not log it again.
	s.lastErr = ""
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := s.kv.Delete(fctx, s.episodeKey()); err != nil {
		log.Warn().Err(err).Msg("slack: could not clear the dead-destination episode; a restart would announce its end again")
	}
}

func (s *session) saveEpisode(ctx context.Context) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	val, _ := json.Marshal(s.episode)
	if _, err := s.kv.Put(fctx, s.episodeKey(), val); err != nil {
		s.o.Logger.Warn().Err(err).Msg("slack: could not record the dead-destination episode; a restart would announce it again")
	}
}

// announce publishes a health event of kind about the Slack delivery:
// scope slack, task token _slack, so "<prefix>.*._slack.>" selects them,
// and the consumer skips them (admit) rather than post them to the very
// destination they are about.
func (s *session) announce(ctx context.Context, kind diff.Kind, reason string) error {
	if s.o.Health == nil {
		return nil
	}
	project := s.o.Project
	if project == "" {
		project = noProject
	}
	ev := diff.Event{ID: s.healthID(kind), Kind: kind, Scope: diff.ScopeSlack, Reason: reason}
	env := s.o.Health.Envelope(ev, notify.Meta{ProjectID: project, ObservedAt: s.o.Now()})
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	return s.o.Health.Publish(pctx, env)
}

// healthID is deterministic, like every event id: the consumer, the kind
// and the episode's first stream sequence. A restart that finds the same
// destination dead on the same event (its episode record lost) publishes
// the same id, which JetStream drops as a duplicate.
func (s *session) healthID(kind diff.Kind) string {
	sum := sha256.Sum256([]byte(s.consumer + "\x00" + string(kind) + "\x00" + strconv.FormatUint(s.episode.StreamSeq, 10)))
	return hex.EncodeToString(sum[:16])
}

// ownHealth says whether an event is the Slack delivery's own health
// event: never posted, it would only go to the destination it is about.
func ownHealth(d notify.Data) bool { return d.Scope == diff.ScopeSlack }
