package delivery

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/testutil"
	"github.com/dcs-watcher/watcher/internal/testutil/slackhook"
)

// crashingSlack is one Slack channel reached by several replicas, each
// through a webhook path of its own (/hook/<replica>), so that it knows
// who posted. crash, called under the hook's lock when a post arrives
// with the number of posts taken so far, may kill the poster: that post
// and every later one from it are answered 500, as if the process had
// died before sending.
type crashingSlack struct{ *slackhook.Server }

type replicaPost struct {
	replica int
	id      string
}

func newCrashingSlack(t *testing.T, crash func(replica int, accepted int) bool) crashingSlack {
	t.Helper()
	crashed, accepted := map[int]bool{}, 0 // under the hook's lock
	return crashingSlack{slackhook.Start(t, slackhook.Options{Respond: func(_ int, p slackhook.Post) slackhook.Reply {
		replica, err := replicaOf(p)
		if err != nil {
			return slackhook.Refusal(http.StatusBadRequest)
		}
		if !crashed[replica] && crash(replica, accepted) {
			crashed[replica] = true
		}
		if crashed[replica] {
			return slackhook.Reply{Status: http.StatusInternalServerError, Body: "internal_error"}
		}
		accepted++
		return slackhook.OK
	}})}
}

// replicaOf is the replica that sent p, from its path.
func replicaOf(p slackhook.Post) (int, error) {
	return strconv.Atoi(strings.TrimPrefix(p.Channel, "/hook/"))
}

// url is replica's webhook.
func (f crashingSlack) url(replica int) secret.Secret {
	return secret.Secret(fmt.Sprintf("%s/hook/%d", f.URL, replica))
}

// posts are the posts taken, in arrival order.
func (f crashingSlack) posts() []replicaPost {
	var out []replicaPost
	for _, p := range f.Accepted() {
		replica, _ := replicaOf(p)
		out = append(out, replicaPost{replica: replica, id: eventIDs([]slackhook.Post{p})[0]})
	}
	return out
}

// orderStream starts a server with the events' stream, and returns it and
// the publisher's connection (the poller's, never cut).
func orderStream(t *testing.T) (*server.Server, jetstream.JetStream) {
	t.Helper()
	srv := testutil.RunJetStream(t, -1, t.TempDir())
	_, pub := testutil.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := pub.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: defaults.NATS.Stream, Subjects: []string{prefix + ".>"}, Duplicates: time.Hour,
	}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	return srv, pub
}

// shortLease keeps AckWait longer than the lease's TTL plus skew, as in
// production (30 s against 15 s + 2 s): a new holder that fetched as soon
// as it took over would find the dead one's batch not yet redelivered.
func shortLease(n *Notifier) {
	for _, l := range n.lanes {
		l.ackWait, l.leaseTTL = 4*time.Second, 600*time.Millisecond
	}
}

// publishRounds publishes round from, then from+1, ... up to to of every
// task: event t<k>-r<rr> moves task k between MIGRATING and SUCCESS.
func publishRounds(t *testing.T, pub jetstream.JetStream, tasks, from, to int) {
	t.Helper()
	statuses := []string{"MIGRATING", "SUCCESS"}
	for r := from; r < to; r++ {
		var envs []notify.Envelope
		for k := range tasks {
			prev, curr := task("task-"+strconv.Itoa(k), statuses[r%2]), task("task-"+strconv.Itoa(k), statuses[(r+1)%2])
			prev.ID = fmt.Sprintf("a1b2c3d4-0000-4000-8000-%012d", k)
			curr.ID = prev.ID
			envs = append(envs, envelope(fmt.Sprintf("t%d-r%02d", k, r), "status_changed", prev, curr, time.Minute))
		}
		publish(t, pub, envs...)
	}
}

// assertEachTaskInOrder checks that Slack got every event of
// publishRounds(tasks, 0, rounds) once, each task's in stream order, and
// returns the replicas that posted.
func assertEachTaskInOrder(t *testing.T, posts []replicaPost, tasks, rounds int) map[int]bool {
	t.Helper()
	seen := map[string]int{}
	got := make([][]string, tasks)
	who := map[int]bool{}
	for _, p := range posts {
		seen[p.id]++
		who[p.replica] = true
		var k, r int
		if _, err := fmt.Sscanf(p.id, "t%d-r%d", &k, &r); err != nil || k >= tasks {
			t.Fatalf("unexpected post %q", p.id)
		}
		got[k] = append(got[k], p.id)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s posted %d times", id, n)
		}
	}
	for k := range tasks {
		var want []string
		for r := range rounds {
			want = append(want, fmt.Sprintf("t%d-r%02d", k, r))
		}
		if !equal(got[k], want) {
			t.Errorf("task %d reached Slack as %v, want %v", k, got[k], want)
		}
	}
	return who
}

// Three replicas share the Slack consumer; the one delivering dies
// twice mid-batch (its NATS connection cut, its later posts lost, its
// batch left unacked for JetStream to redeliver after AckWait). Every
// task's events still reach Slack in stream order, each once, and
// delivery moves between replicas.
func TestReplicasKeepEachTasksOrderThroughCrashes(t *testing.T) {
	t.Parallel()
	srv, pub := orderStream(t)
	const replicas, tasks, rounds = 3, 4, 10
	conns := make([]*nats.Conn, replicas)
	jss := make([]jetstream.JetStream, replicas)
	for i := range replicas {
		conns[i], jss[i] = testutil.Connect(t, srv.ClientURL())
	}

	// The deliverer dies on the post that arrives after 3 accepted ones,
	// and the next on the one after 15: with GroupMax 10 each holds
	// unacked events whose tasks have later events in the stream.
	var crashes atomic.Int32
	f := newCrashingSlack(t, func(replica, accepted int) bool {
		if n := crashes.Load(); (n == 0 && accepted >= 3) || (n == 1 && accepted >= 15) {
			crashes.Add(1)
			conns[replica].Close()
			return true
		}
		return false
	})

	o := Options{NoGrouping: true, GroupMax: 10}
	for i := range replicas {
		startNotifier(t, jss[i], slackwire.WebhookSender{URL: f.url(i)}, o, shortLease)
	}

	// Bursts: round r of every task, then round r+1, ...; the second half
	// after the first crash.
	publishRounds(t, pub, tasks, 0, rounds/2)
	testutil.EventuallyWithin(t, 30*time.Second, "the first crash", func() bool { return crashes.Load() >= 1 })
	publishRounds(t, pub, tasks, rounds/2, rounds)
	testutil.EventuallyWithin(t, 60*time.Second, "every event in Slack", func() bool {
		return len(f.posts()) >= tasks*rounds
	})

	who := assertEachTaskInOrder(t, f.posts(), tasks, rounds)
	if len(who) != replicas {
		t.Errorf("posts came from replicas %v, want all %d (delivery moved at each crash)", who, replicas)
	}
	if n := crashes.Load(); n != 2 {
		t.Errorf("%d crashes, want 2", n)
	}
}

// The watcher on its own embedded server (Solo) is killed mid-batch and
// started again: the new run seizes the delivery lease at once, but waits
// for the dead run's unacked batch to be redelivered before it fetches, so
// every task's events still reach Slack in stream order, each once.
func TestSoloRestartKeepsEachTasksOrder(t *testing.T) {
	t.Parallel()
	srv, pub := orderStream(t)
	const tasks, rounds = 4, 8
	conn, js := testutil.Connect(t, srv.ClientURL())
	_, js2 := testutil.Connect(t, srv.ClientURL()) // the restarted run's
	var crashed atomic.Bool
	f := newCrashingSlack(t, func(replica, accepted int) bool {
		if replica == 0 && accepted >= 3 {
			crashed.Store(true)
			conn.Close()
			return true
		}
		return false
	})
	o := Options{NoGrouping: true, GroupMax: 10, Solo: true}
	startNotifier(t, js, slackwire.WebhookSender{URL: f.url(0)}, o, shortLease)

	publishRounds(t, pub, tasks, 0, rounds/2)
	testutil.EventuallyWithin(t, 30*time.Second, "the crash", func() bool { return crashed.Load() })
	publishRounds(t, pub, tasks, rounds/2, rounds)
	startNotifier(t, js2, slackwire.WebhookSender{URL: f.url(1)}, o, shortLease) // the restart
	testutil.EventuallyWithin(t, 60*time.Second, "every event in Slack", func() bool {
		return len(f.posts()) >= tasks*rounds
	})
	assertEachTaskInOrder(t, f.posts(), tasks, rounds)
}
