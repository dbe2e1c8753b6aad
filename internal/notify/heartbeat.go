package notify

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/dcs-watcher/watcher/event"
)

// Heartbeat wraps hb in the envelope of a heartbeat event, published at
// at on event.HeartbeatSubject(prefix): its id hashes the replica, its
// start and the sequence number, so two heartbeats never share an id (a
// restarted replica starts at another time) and a heartbeat sent again
// after a lost ack is dropped as the duplicate it is.
func Heartbeat(prefix, region string, at time.Time, hb event.HeartbeatData) Envelope {
	d := Data{Kind: event.Heartbeat, Region: region, ProjectID: event.WatcherProject, Heartbeat: &hb}
	d.Outcome, d.Severity = event.Classify(event.Heartbeat, "")
	return Envelope{
		SpecVersion:     event.SpecVersion,
		ID:              heartbeatID(hb),
		Source:          source(region, event.WatcherProject),
		Type:            event.TypeOf(event.Heartbeat),
		Subject:         hb.Replica,
		NATSSubject:     event.HeartbeatSubject(prefix),
		Time:            at.UTC(),
		DataContentType: event.DataContentType,
		Data:            d,
	}
}

func heartbeatID(hb event.HeartbeatData) string {
	h := sha256.New()
	h.Write([]byte("heartbeat\x00" + hb.Replica + "\x00"))
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(hb.Started.UnixNano()))
	binary.BigEndian.PutUint64(b[8:], hb.Seq)
	h.Write(b[:])
	return hex.EncodeToString(h.Sum(nil))[:32]
}
