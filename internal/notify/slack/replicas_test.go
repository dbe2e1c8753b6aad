package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/slack-go/slack"

	"github.com/dcs-watcher/watcher/internal/notify"
	"github.com/dcs-watcher/watcher/internal/notify/slackwire"
	"github.com/dcs-watcher/watcher/internal/secret"
	"github.com/dcs-watcher/watcher/internal/testutil"
)

// crashingSlack is one Slack channel reached by several replicas, each
// through a webhook path of its own (/hook/<replica>), so that it knows
// who posted. crash, called under its lock when a post arrives, may kill
// the poster: that post and every later one from it are answered 500 and
// not recorded, as if the process had died before sending.
type crashingSlack struct {
	srv     *httptest.Server
	mu      sync.Mutex
	ok      []replicaPost
	crashed map[int]bool
	crash   func(replica int, accepted int) bool
}

type replicaPost struct {
	replica int
	id      string
}

func (f *crashingSlack) serve(w http.ResponseWriter, r *http.Request) {
	replica, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hook/"))
	body, _ := io.ReadAll(r.Body)
	var msg slack.WebhookMessage
	if err != nil || json.Unmarshal(body, &msg) != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	if !f.crashed[replica] && f.crash(replica, len(f.ok)) {
		f.crashed[replica] = true
	}
	dead := f.crashed[replica]
	if !dead {
		f.ok = append(f.ok, replicaPost{replica: replica, id: eventIDs([]post{{Msg: msg}})[0]})
	}
	f.mu.Unlock()
	if dead {
		http.Error(w, "internal_error", http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

func (f *crashingSlack) posts() []replicaPost {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]replicaPost(nil), f.ok...)
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
	f := &crashingSlack{crashed: map[int]bool{}}
	var crashes int
	f.crash = func(replica, accepted int) bool {
		if (crashes == 0 && accepted >= 3) || (crashes == 1 && accepted >= 15) {
			crashes++
			conns[replica].Close()
			return true
		}
		return false
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)

	o := Options{NoGrouping: true, GroupMax: 10}
	for i := range replicas {
		startNotifier(t, jss[i], slackwire.WebhookSender{URL: secret.Secret(fmt.Sprintf("%s/hook/%d", f.srv.URL, i))}, o, shortLease)
	}

	// Bursts: round r of every task, then round r+1, ...; the second half
	// after the first crash.
	publishRounds(t, pub, tasks, 0, rounds/2)
	testutil.EventuallyWithin(t, 30*time.Second, "the first crash", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return crashes >= 1
	})
	publishRounds(t, pub, tasks, rounds/2, rounds)
	testutil.EventuallyWithin(t, 60*time.Second, "every event in Slack", func() bool {
		return len(f.posts()) >= tasks*rounds
	})

	who := assertEachTaskInOrder(t, f.posts(), tasks, rounds)
	if len(who) != replicas {
		t.Errorf("posts came from replicas %v, want all %d (delivery moved at each crash)", who, replicas)
	}
	if crashes != 2 {
		t.Errorf("%d crashes, want 2", crashes)
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
	f := &crashingSlack{crashed: map[int]bool{}}
	var crashed bool
	f.crash = func(replica, accepted int) bool {
		if replica == 0 && accepted >= 3 {
			crashed = true
			conn.Close()
			return true
		}
		return false
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	o := Options{NoGrouping: true, GroupMax: 10, Solo: true}
	startNotifier(t, js, slackwire.WebhookSender{URL: secret.Secret(f.srv.URL + "/hook/0")}, o, shortLease)

	publishRounds(t, pub, tasks, 0, rounds/2)
	testutil.EventuallyWithin(t, 30*time.Second, "the crash", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return crashed
	})
	publishRounds(t, pub, tasks, rounds/2, rounds)
	startNotifier(t, js2, slackwire.WebhookSender{URL: secret.Secret(f.srv.URL + "/hook/1")}, o, shortLease) // the restart
	testutil.EventuallyWithin(t, 60*time.Second, "every event in Slack", func() bool {
		return len(f.posts()) >= tasks*rounds
	})
	assertEachTaskInOrder(t, f.posts(), tasks, rounds)
}
