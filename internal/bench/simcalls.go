package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/dcs-watcher/watcher/internal/sim"
)

// SimCalls reads the call counters of a simulator in another process
// (GET sim.CallsPath, which is neither signed nor counted).
func SimCalls(ctx context.Context, endpoint string) (sim.Calls, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+sim.CallsPath, nil)
	if err != nil {
		return sim.Calls{}, fmt.Errorf("simulator calls: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return sim.Calls{}, fmt.Errorf("simulator calls: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return sim.Calls{}, fmt.Errorf("simulator calls: HTTP %d", resp.StatusCode)
	}
	var c sim.Calls
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return sim.Calls{}, fmt.Errorf("simulator calls: decode: %w", err)
	}
	return c, nil
}

// CallsDelta is b - a, counter by counter: the calls made in between.
func CallsDelta(a, b sim.Calls) sim.Calls {
	return sim.Calls{
		Detail: b.Detail - a.Detail, List: b.List - a.List,
		AuthFailures: b.AuthFailures - a.AuthFailures, Faults: b.Faults - a.Faults,
	}
}
