package bench

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/dcs-watcher/watcher/internal/diff"
	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/sim"
	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

// ---- g. Slack burst ----

func (r *runner) phaseSlack(ctx context.Context) error {
	for _, status := range r.o.BurstStatus {
		if err := r.slackBurst(ctx, status); err != nil {
			return fmt.Errorf("burst to %s: %w", status, err)
		}
	}
	return nil
}

func (r *runner) slackBurst(ctx context.Context, status string) error {
	k := r.o.Burst
	at := r.warmup(k, false)
	fo := sim.FleetOptions{Tasks: k, Seed: r.o.Seed, BurstTasks: k, BurstAt: at}
	if status != BurstMixed {
		fo.BurstStatus = status
	}
	var burst [][]string // the ways each task of the burst may be named
	for _, c := range sim.Fleet(fo).StatusChanges() {
		burst = append(burst, []string{c.TaskName, c.TaskID})
	}
	sink := slackhook.New(slackhook.Options{Path: sinkPath, PerChannel: slackhook.WebhookRate})
	url, stopSink, err := sink.Serve(ctx)
	if err != nil {
		return err
	}
	defer stopSink()
	s, err := r.startSim(ctx, fo)
	if err != nil {
		return err
	}
	defer s.Stop()
	var published counter
	wt, err := r.startWatcher(ctx, s, watchSpec{slackURL: url, published: func(e notify.Envelope) {
		if e.Data.Kind == diff.StatusChanged {
			published.add()
		}
	}})
	if err != nil {
		return err
	}
	defer wt.Stop()
	stop := runPoller(ctx, wt, "@every 1s")
	instant := s.start.Add(at)
	covered, err := waitSlack(ctx, wt, sink, burst, instant, r.o.SlackWait)
	stop()
	if err != nil {
		return err
	}
	slackTable(r, status, published.get(), sink, covered, instant).Print(r.out)
	return nil
}

// sinkPath is the bench's webhook path; its token must show nowhere in
// the report.
const sinkPath = "/services/TBENCH000/BBENCH000/benchwebhooksecret"

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }

func (c *counter) get() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

// waitSlack waits until the accepted messages cover every task of the
// burst, or the notifier has nothing pending some seconds after the burst
// (what is missing then is dropped), or wait has passed.
func waitSlack(ctx context.Context, wt *watcher, sink *slackhook.Hook, burst [][]string, instant time.Time, wait time.Duration) (int, error) {
	deadline := instant.Add(wait)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case now := <-tick.C:
			covered := Covered(sink.Accepted(), burst)
			if covered == len(burst) || now.After(deadline) {
				return covered, nil
			}
			if now.After(instant.Add(10 * time.Second)) {
				if p, err := wt.Slack.Pending(ctx); err == nil && p == 0 {
					return covered, nil
				}
			}
		}
	}
}

func slackTable(r *runner, status string, published int, sink *slackhook.Hook, covered int, instant time.Time) *Table {
	k := r.o.Burst
	what := "all to " + status + " (one incident)"
	if status == BurstMixed {
		what = "each to its own next status (FULLMIGRATING, INCRMIGEATING or FAILED, interleaved in the stream)"
	}
	t := &Table{Title: fmt.Sprintf("g. Slack burst: %d transitions at one instant, %s", k, what)}
	t.Note("%d tasks change status at the same instant; on_change mode on \"@every 1s\"; Slack enabled with the webhook URL of a local sink that enforces 1 message per second per channel (token bucket of 1; beyond it 429, Retry-After: 1, \"rate_limited\"); Slack rate and grouping at the notifier's defaults.", k)
	t.Note("Covered = tasks of the burst whose name or id appears in an accepted message. Drain = last accepted message - the burst instant. Waited at most %s.", r.o.SlackWait)
	acc := sink.Accepted()
	times := make([]time.Time, len(acc))
	for i, m := range acc {
		times[i] = m.At
	}
	drain := "-"
	if len(acc) > 0 {
		drain = Secs(acc[len(acc)-1].At.Sub(instant))
	}
	limited := sink.Count(http.StatusTooManyRequests)
	perSecond := MaxInWindow(times, time.Second)
	var tried []time.Time // every POST, accepted or not
	for _, p := range sink.Posts() {
		tried = append(tried, p.At)
	}
	attempts := MaxInWindow(tried, time.Second)
	t.Row("status_changed events published", strconv.Itoa(published), strconv.Itoa(k), Met(published == k))
	t.Row("Slack messages accepted", strconv.Itoa(len(acc)), "", "")
	t.Row("tasks covered", fmt.Sprintf("%d of %d", covered, k), "all", Met(covered == k))
	t.Row("tasks dropped", strconv.Itoa(k-covered), "0", Met(covered == k))
	t.Row("429s received", strconv.Itoa(limited), "0 (paced at Slack's rate)", Met(limited == 0))
	t.Row("time to drain", drain, "", "")
	t.Row("most messages accepted in 1 s", strconv.Itoa(perSecond), "<= 1", Met(perSecond <= 1))
	t.Row("most POSTs tried in 1 s", strconv.Itoa(attempts), "<= 1", Met(attempts <= 1))
	return t
}
