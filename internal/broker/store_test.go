package broker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dcs-watcher/watcher/internal/testutil"
)

// useInodes creates empty files in a directory of dir until the file
// system has no inode left, and returns that directory: bytes free, yet
// no new file.
func useInodes(t *testing.T, dir string) string {
	t.Helper()
	d := filepath.Join(dir, "inodes")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		f, err := os.Create(filepath.Join(d, fmt.Sprint(i)))
		if err != nil {
			if !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("inode filler: %v", err)
			}
			return d
		}
		f.Close()
	}
}

// storeFixture is an embedded broker on a small disk with a stream, a
// bucket and a durable consumer, as the watcher has them.
type storeFixture struct {
	b    *Broker
	dir  string
	logs *testutil.SyncBuffer
	s    jetstream.Stream
	kv   jetstream.KeyValue
	cons jetstream.Consumer
}

// newStoreFixture's file system has 8 MiB and 1000 inodes.
func newStoreFixture(t *testing.T, stuckAfter time.Duration) *storeFixture {
	t.Helper()
	f := &storeFixture{dir: testutil.SmallDisk(t, "size=8m,nr_inodes=1000"), logs: &testutil.SyncBuffer{}}
	o := embedded(f.dir)
	o.Logger = zerolog.New(f.logs)
	o.StuckAfter = stuckAfter
	f.b = start(t, o)
	ctx := ctxT(t)
	var err error
	if f.s, err = f.b.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"dcs.migration.>"}, Duplicates: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if f.kv, err = f.b.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "snaps", History: 1}); err != nil {
		t.Fatal(err)
	}
	if f.cons, err = f.s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "watcher-slack", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("broker logs:\n%s", f.logs.String())
		}
	})
	return f
}

// publish stores event i (its id is its Msg-Id) and, on success, the
// snapshot of task i%5; it waits at most a second for each.
func (f *storeFixture) publish(i int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	msg := &nats.Msg{Subject: fmt.Sprintf("dcs.migration.p.t%d", i%5), Data: []byte(fmt.Sprint(i)), Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("event-%d", i))
	if _, err := f.b.JS.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("event %d: %w", i, err)
	}
	if _, err := f.kv.Put(ctx, fmt.Sprintf("t%d", i%5), []byte(fmt.Sprint(i))); err != nil {
		return fmt.Errorf("snapshot of event %d: %w", i, err)
	}
	return nil
}

// fetch acks and returns the payloads of up to n messages of the consumer.
func (f *storeFixture) fetch(t *testing.T, n int) []string {
	t.Helper()
	b, err := f.cons.Fetch(n, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	var got []string
	for m := range b.Messages() {
		got = append(got, string(m.Data()))
		if err := m.Ack(); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	return got
}

// TestFullDiskRecoversByItself fills the embedded server's disk under a
// stream, a bucket and a consumer: the store must say it cannot write,
// naming the data directory and its free space (readiness), log it once,
// and write again by itself once the space is freed, with every message
// acked before, every snapshot and the consumer's position intact, and
// the publish that timed out stored once when sent again.
func TestFullDiskRecoversByItself(t *testing.T) {
	f := newStoreFixture(t, 0)
	for i := range 20 {
		if err := f.publish(i); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.fetch(t, 5); len(got) != 5 {
		t.Fatalf("consumed %v, want 5 messages", got)
	}
	filler := testutil.FillDisk(t, f.dir)
	// A block's last page may take a few more messages: publish until one fails.
	stored, failed := 20, -1
	for i := 20; i < 200 && failed < 0; i++ {
		if err := f.publish(i); err != nil {
			failed = i
			break
		}
		stored = i + 1
	}
	if failed < 0 {
		t.Fatal("every publish succeeded on a full disk")
	}
	testutil.Eventually(t, "the store saying it cannot write", func() bool { return f.b.StoreErr() != nil })
	err := f.b.StoreErr()
	for _, want := range []string{"cannot write", f.dir, "free"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("StoreErr() = %v, want it to say %q", err, want)
		}
	}
	t.Logf("while full: %v", err)
	if n := strings.Count(f.logs.String(), "JetStream store cannot write"); n != 1 {
		t.Errorf("%d lines say the store cannot write, want 1", n)
	}
	line := logLine(t, f.logs.String(), "JetStream store cannot write")
	if !strings.Contains(line, `"data_dir":"`+f.dir+`"`) || !strings.Contains(line, `"free_bytes":`) || !strings.Contains(line, `"level":"error"`) {
		t.Errorf("the error line does not name the data directory and its free space: %s", line)
	}
	// Freeing the space is all it takes.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	testutil.Eventually(t, "the store writing again", func() bool { return f.b.StoreErr() == nil })
	t.Logf("writes again %s after the space was freed", time.Since(freed).Round(time.Millisecond))
	if err := f.b.StoreStuck(); err != nil {
		t.Errorf("StoreStuck() = %v after a recovery", err)
	}
	// The publish that failed, sent again with its id, then new ones.
	for i := failed; i < failed+5; i++ {
		if err := f.publish(i); err != nil {
			t.Fatalf("after the space was freed: %v", err)
		}
	}
	if err := f.publish(failed); err != nil { // a second time: a duplicate
		t.Fatal(err)
	}
	info, err := f.s.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(failed + 5); info.State.Msgs != want {
		t.Errorf("the stream holds %d messages, want %d (%d stored before the failure, 5 after)", info.State.Msgs, want, stored)
	}
	var want []string
	for i := 5; i < failed+5; i++ {
		want = append(want, fmt.Sprint(i))
	}
	if got := f.fetch(t, 500); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("the consumer delivered %v after the recovery, want %v", got, want)
	}
	for k := range 5 {
		e, err := f.kv.Get(ctxT(t), fmt.Sprintf("t%d", k))
		if err != nil {
			t.Fatalf("snapshot t%d: %v", k, err)
		}
		if last := lastOf(failed+5, k); string(e.Value()) != fmt.Sprint(last) {
			t.Errorf("snapshot t%d = %s, want %d", k, e.Value(), last)
		}
	}
}

// lastOf is the last i < n with i%5 == k.
func lastOf(n, k int) int {
	for i := n - 1; i >= 0; i-- {
		if i%5 == k {
			return i
		}
	}
	return -1
}

// TestStoreStuckWhenRoomDoesNotHelp: a store that fails on a full disk and
// still cannot write once there are bytes free (here the file system has
// no inode left, so no file can be created) is declared stuck after
// StuckAfter, for liveness; while the disk is merely full it is not. With
// inodes again, it recovers and is no longer stuck.
func TestStoreStuckWhenRoomDoesNotHelp(t *testing.T) {
	const stuckAfter = 3 * time.Second
	f := newStoreFixture(t, stuckAfter)
	if err := f.publish(0); err != nil {
		t.Fatal(err)
	}
	filler := testutil.FillDisk(t, f.dir)
	testutil.Eventually(t, "a publish failing on the full disk", func() bool { return f.publish(1) != nil })
	testutil.Eventually(t, "the store saying it cannot write", func() bool { return f.b.StoreErr() != nil })
	full := time.Now()
	// Full for longer than stuckAfter: not stuck, a restart frees nothing.
	testutil.EventuallyWithin(t, 3*stuckAfter, "stuckAfter passing on a full disk", func() bool {
		return time.Since(full) > stuckAfter+2*storeCheckEvery
	})
	if err := f.b.StoreStuck(); err != nil {
		t.Fatalf("StoreStuck() = %v while the disk is merely full", err)
	}
	// Bytes back, but no inode: the filler is emptied, not removed.
	inodes := useInodes(t, f.dir)
	if err := os.Truncate(filler, 0); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyWithin(t, 3*stuckAfter+10*time.Second, "the store declared stuck", func() bool { return f.b.StoreStuck() != nil })
	err := f.b.StoreStuck()
	t.Logf("stuck: %v", err)
	for _, want := range []string{f.dir, "room", "probe write", "no space left"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("StoreStuck() = %v, want it to say %q", err, want)
		}
	}
	if f.b.StoreErr() == nil {
		t.Error("StoreErr() = nil while stuck")
	}
	if err := os.RemoveAll(inodes); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyWithin(t, 45*time.Second, "the store writing again", func() bool { return f.b.StoreErr() == nil })
	if err := f.b.StoreStuck(); err != nil {
		t.Errorf("StoreStuck() = %v after the recovery", err)
	}
	if err := f.publish(1); err != nil {
		t.Errorf("after the recovery: %v", err)
	}
}

// logLine is the first line of logs holding marker.
func logLine(t *testing.T, logs, marker string) string {
	t.Helper()
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, marker) {
			return l
		}
	}
	t.Fatalf("no log line says %q", marker)
	return ""
}

func TestSizeOf(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 8 << 20: "8.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := sizeOf(n, nil); got != want {
			t.Errorf("sizeOf(%d) = %q, want %q", n, got, want)
		}
	}
	if got := sizeOf(5, errors.New("statfs")); got != "unknown" {
		t.Errorf("sizeOf with an error = %q", got)
	}
}
