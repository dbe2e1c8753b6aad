package delivery

import (
	"time"

	"github.com/dcs-watcher/watcher/internal/notify"
)

// reminder is an open incident of one task at one destination: since
// when it is open, when it is next reminded, and its last event (an
// envelope's data, redacted by the publisher).
type reminder struct {
	OpenedAt time.Time   `json:"opened_at"`
	NextAt   time.Time   `json:"next_at"`
	EventID  string      `json:"event_id"`
	Data     notify.Data `json:"data"`
}
