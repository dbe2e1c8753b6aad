package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// Target is a DCS API (the simulator) a raw loop calls.
type Target struct {
	Endpoint    string // e.g. http://127.0.0.1:40503
	ProjectID   string
	Credentials dcs.Credentials
}

// RawOptions configure a raw loop.
type RawOptions struct {
	Target
	// Concurrency is the number of workers, each with one request in
	// flight: the watcher's dcs.concurrency, for a fair comparison.
	Concurrency int
	Duration    time.Duration
}

// RawResult is what a raw loop did.
type RawResult struct {
	Calls   int64         // successful calls (200, body decoded)
	Items   int64         // tasks decoded: one per detail call, the rows of a list page
	Errors  int64         // failed calls (transport, status, decoding)
	Elapsed time.Duration // wall time of the loop
	CPU     time.Duration // this process's CPU time during the loop
}

// MeanRaw pools runs of one loop: their counts and times added, so the
// rates are those of all the runs together.
func MeanRaw(runs ...RawResult) RawResult {
	var m RawResult
	for _, r := range runs {
		m.Calls += r.Calls
		m.Items += r.Items
		m.Errors += r.Errors
		m.Elapsed += r.Elapsed
		m.CPU += r.CPU
	}
	return m
}

// CallsPerSecond is the rate of successful calls.
func (r RawResult) CallsPerSecond() float64 { return PerSec(r.Calls, r.Elapsed) }

// ItemsPerSecond is the rate of tasks decoded.
func (r RawResult) ItemsPerSecond() float64 { return PerSec(r.Items, r.Elapsed) }

// rawDetail is the detail object as a typed client would decode it.
type rawDetail struct {
	TaskID          string       `json:"task_id"`
	TaskName        string       `json:"task_name"`
	Status          string       `json:"status"`
	TaskStatus      string       `json:"task_status"`
	MigrationType   string       `json:"migration_type"`
	MigrationMethod string       `json:"migration_method"`
	NetworkType     string       `json:"network_type"`
	CreatedAt       string       `json:"created_at"`
	UpdatedAt       string       `json:"updated_at"`
	Description     string       `json:"description"`
	SourceInstance  *rawInstance `json:"source_instance"`
	TargetInstance  *rawInstance `json:"target_instance"`
}

type rawInstance struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Addrs      string `json:"addrs"`
	IP         string `json:"ip"`
	Port       string `json:"port"`
	DB         string `json:"db"`
	Password   string `json:"password"`
	TaskStatus string `json:"task_status"`
}

type rawList struct {
	Count int `json:"count"`
	Rows  []struct {
		TaskID       string `json:"task_id"`
		TaskName     string `json:"task_name"`
		Status       string `json:"status"`
		CreatedAt    string `json:"created_at"`
		ErrorMessage string `json:"error_message"`
		DataSource   string `json:"data_source"`
	} `json:"migration_tasks"`
}

// RawDetail calls the detail API for ids, round robin, from o.Concurrency
// workers for o.Duration: one keep-alive client, every request signed with
// dcs.Sign (the simulator checks signatures, as the real gateway does), the
// body decoded into a typed struct. It is the bare limit of per-task
// polling against that server on this machine.
func RawDetail(ctx context.Context, o RawOptions, ids []string) (RawResult, error) {
	if len(ids) == 0 {
		return RawResult{}, errors.New("raw detail loop: no task ids")
	}
	return rawLoop(ctx, o, func(ctx context.Context, c *rawClient, k int64) (int64, error) {
		var d rawDetail
		if err := c.get(ctx, "migration-task/"+ids[k%int64(len(ids))], &d); err != nil {
			return 0, err
		}
		if d.TaskID == "" {
			return 0, errors.New("detail without task_id")
		}
		return 1, nil
	})
}

// RawList reads the list of a fleet of total tasks in pages of
// dcs.MaxListLimit, round robin over the pages, like RawDetail: the bare
// limit of list-driven discovery.
func RawList(ctx context.Context, o RawOptions, total int) (RawResult, error) {
	pages := int64(max(1, (total+dcs.MaxListLimit-1)/dcs.MaxListLimit))
	return rawLoop(ctx, o, func(ctx context.Context, c *rawClient, k int64) (int64, error) {
		var l rawList
		offset := (k % pages) * dcs.MaxListLimit
		q := "?offset=" + strconv.FormatInt(offset, 10) + "&limit=" + strconv.Itoa(dcs.MaxListLimit)
		if err := c.get(ctx, "migration-tasks"+q, &l); err != nil {
			return 0, err
		}
		return int64(len(l.Rows)), nil
	})
}

// rawCall makes the k-th call of a loop and returns the tasks it decoded.
type rawCall func(ctx context.Context, c *rawClient, k int64) (int64, error)

func rawLoop(ctx context.Context, o RawOptions, call rawCall) (RawResult, error) {
	if o.Concurrency < 1 || o.Duration <= 0 {
		return RawResult{}, fmt.Errorf("raw loop: concurrency %d and duration %s must be positive", o.Concurrency, o.Duration)
	}
	c := newRawClient(o.Target, o.Concurrency)
	defer c.hc.CloseIdleConnections()

	var next, calls, items, errs atomic.Int64
	var firstErr error
	var once sync.Once
	cpu0, _ := CPUTime()
	t0 := time.Now()
	// A call started before the deadline runs to its end and counts, and
	// the elapsed time includes it: so every worker completes at least
	// one call, however slow the machine, and calls and time match.
	deadline := t0.Add(o.Duration)
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				n, err := call(ctx, c, next.Add(1)-1)
				switch {
				case err == nil:
					calls.Add(1)
					items.Add(n)
				case ctx.Err() == nil:
					errs.Add(1)
					once.Do(func() { firstErr = err })
				}
			}
		})
	}
	wg.Wait()
	r := RawResult{Calls: calls.Load(), Items: items.Load(), Errors: errs.Load(), Elapsed: time.Since(t0)}
	cpu1, _ := CPUTime()
	r.CPU = cpu1 - cpu0
	if r.Calls == 0 && firstErr != nil {
		return r, fmt.Errorf("raw loop: no call succeeded: %w", firstErr)
	}
	return r, nil
}

// rawClient is the bare client: signed GETs over one keep-alive pool.
type rawClient struct {
	t  Target
	hc *http.Client
}

func newRawClient(t Target, conns int) *rawClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Keep a connection per worker: the default of 2 idle connections per
	// host would make most calls open a new one.
	tr.MaxIdleConnsPerHost = conns
	tr.MaxIdleConns = max(tr.MaxIdleConns, conns)
	return &rawClient{t: t, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// get sends a signed GET of {endpoint}/v2/{project}/{rel} and decodes a
// 200 answer into v.
func (c *rawClient) get(ctx context.Context, rel string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.t.Endpoint+"/v2/"+c.t.ProjectID+"/"+rel, nil)
	if err != nil {
		return fmt.Errorf("raw get %s: %w", rel, err)
	}
	// The watcher's client sends these too; they are signed, so they cost.
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "dcs-watcher-bench")
	req.Header.Set("X-Project-Id", c.t.ProjectID)
	if err := dcs.Sign(req, c.t.Credentials, time.Now()); err != nil {
		return fmt.Errorf("raw get %s: %w", rel, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("raw get %s: %w", rel, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("raw get %s: HTTP %d", rel, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("raw get %s: decode: %w", rel, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // lets the connection be reused
	return nil
}
