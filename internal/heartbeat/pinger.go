package heartbeat

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/secret"
)

// Pinger GETs a ping URL (healthchecks.io, Cronitor, an Alertmanager
// Watchdog receiver), which usually holds a token: the URL appears in no
// log line and no error, which name the cause and the HTTP status only. A
// failing ping is logged once, when it starts failing, and once when it
// recovers.
type Pinger struct {
	url    secret.Secret
	client *http.Client
	log    zerolog.Logger
	ep     Episode
}

// maxAnswer is how much of an answer's body is read (and dropped) so that
// the connection can be reused.
const maxAnswer = 64 << 10

// NewPinger pings url, each ping bounded by timeout.
func NewPinger(url secret.Secret, timeout time.Duration, log zerolog.Logger) *Pinger {
	return &Pinger{url: url, client: &http.Client{Timeout: timeout}, log: log}
}

// Ping makes one GET; an answer other than 2xx after redirects is a
// failure. The error, like the log, holds no URL.
func (p *Pinger) Ping(ctx context.Context) error {
	status, err := p.get(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return err // shutting down: no news
		}
		if p.ep.Fail() {
			ev := p.log.Warn().Err(err)
			if status != 0 {
				ev = ev.Int("http_status", status)
			}
			ev.Msg("heartbeat ping failed: the monitor will alert if this lasts; logged again when it recovers")
		}
		return err
	}
	if p.ep.OK() {
		p.log.Info().Int("http_status", status).Msg("heartbeat ping recovered")
	}
	return nil
}

func (p *Pinger) get(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url.Reveal(), nil)
	if err != nil {
		return 0, fmt.Errorf("heartbeat ping: %w", secret.URLCause(err))
	}
	req.Header.Set("User-Agent", "dcs-watcher")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("heartbeat ping: %w", secret.URLCause(err))
	}
	defer resp.Body.Close()
	// The body is not shown: a monitor may echo the URL in it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("heartbeat ping: answered HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
