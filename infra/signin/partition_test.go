package signin_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/signin"
)

// allKnown knows every tenant.
type allKnown struct{}

func (allKnown) Known(context.Context, string) (bool, error) { return true, nil }

// runRouter starts a router on url and returns it with its stop.
func runRouter(t *testing.T, url string, cmds signin.Commands, cfg signin.Config) (*signin.Router, func()) {
	t.Helper()
	cfg.URL, cfg.Options, cfg.Partitions = url, natstest.Options(), natsjs.SigninPartitions
	cfg.Handler = signin.NewHandler(cmds, allKnown{}, domain.ClaimOptions{})
	r, err := signin.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	<-r.Running()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return r, stop
}

// partitionOf learns the partition the stream's transform gives tenant.
func partitionOf(t *testing.T, js jetstream.JetStream, tenant string) string {
	t.Helper()
	publish(t, js, "sf.signin."+tenant, "probe-"+tenant, "probe")
	s, err := js.Stream(context.Background(), natsjs.StreamSignins)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(context.Background(), "sf.signin."+tenant+".*")
	if err != nil {
		t.Fatal(err)
	}
	return m.Subject[strings.LastIndex(m.Subject, ".")+1:]
}

// TestPartitionsKeepArrivalOrder: each tenant's sign-ins reach the domain
// in the order they were published, in batches.
func TestPartitionsKeepArrivalOrder(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	if err := natsjs.EnsureStreams(context.Background(), js, 1); err != nil {
		t.Fatal(err)
	}
	cmds := &fakeCommands{}
	runRouter(t, srv.ClientURL(), cmds, signin.Config{})
	tenants := []string{"alpha", "bravo", "charlie", "delta"}
	var want = map[string][]string{}
	for i := range 400 {
		tn := tenants[i%len(tenants)]
		id := fmt.Sprintf("s%d", i)
		want[tn] = append(want[tn], id)
		m := fmt.Sprintf(`{"id":%q,"user_id":"u%d","app":"teams","at":"2026-11-01T09:00:00Z"}`, id, i)
		publish(t, js, "sf.signin."+tn, id, m)
	}
	natstest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if n := len(cmds.claimed()); n != 400 {
			return fmt.Errorf("claimed %d of 400", n)
		}
		return nil
	})
	cmds.mu.Lock()
	defer cmds.mu.Unlock()
	got := map[string][]string{}
	for _, c := range cmds.claims {
		var i int
		fmt.Sscanf(c.ID, "s%d", &i)
		tn := tenants[i%len(tenants)]
		got[tn] = append(got[tn], c.ID)
	}
	for _, tn := range tenants {
		if !slices.Equal(got[tn], want[tn]) {
			t.Errorf("tenant %s: got %v, want %v", tn, got[tn], want[tn])
		}
	}
}

// TestPoisonDelaysOnlyItsPartition: a sign-in of tenant A that keeps
// failing is retried, then dead-lettered; tenant B, on another partition,
// is claimed meanwhile.
func TestPoisonDelaysOnlyItsPartition(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	if err := natsjs.EnsureStreams(context.Background(), js, 1); err != nil {
		t.Fatal(err)
	}
	a, b := "tenant-a", ""
	pa := partitionOf(t, js, a)
	for i := 0; b == ""; i++ {
		if c := fmt.Sprintf("tenant-b%d", i); partitionOf(t, js, c) != pa {
			b = c
		}
	}
	cmds := &fakeCommands{failFor: "stuck"}
	runRouter(t, srv.ClientURL(), cmds, signin.Config{Retries: 6, RetryMin: 200 * time.Millisecond, RetryMax: 400 * time.Millisecond})
	dlq := func() uint64 {
		s, err := js.Stream(context.Background(), natsjs.StreamDLQ)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(context.Background(), jetstream.WithSubjectFilter("sf.dlq.signin."+a))
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Subjects["sf.dlq.signin."+a]
	}
	// The probes were dead-lettered as malformed; count from here.
	natstest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if dlq() != 1 {
			return fmt.Errorf("probe of %s not dead-lettered yet", a)
		}
		return nil
	})
	publish(t, js, "sf.signin."+a, "poison", valid("poison", "stuck"))
	publish(t, js, "sf.signin."+a, "a1", valid("a1", "ua"))
	publish(t, js, "sf.signin."+b, "b1", valid("b1", "ub"))
	natstest.CheckFor(t, 10*time.Second, 5*time.Millisecond, func() error {
		if !slices.Contains(cmds.claimed(), "b1") {
			return fmt.Errorf("b1 not claimed yet")
		}
		return nil
	})
	if n := dlq(); n != 1 || slices.Contains(cmds.claimed(), "a1") {
		t.Fatalf("when tenant B's sign-in was claimed, tenant A's poison was already settled (dead letters %d, claims %v)", n, cmds.claimed())
	}
	// Then A's poison is dead-lettered and A's next sign-in claimed.
	natstest.CheckFor(t, 20*time.Second, 10*time.Millisecond, func() error {
		if dlq() != 2 || !slices.Contains(cmds.claimed(), "a1") {
			return fmt.Errorf("dead letters %d, claims %v", dlq(), cmds.claimed())
		}
		return nil
	})
}

// TestPartitionsSharedAcrossInstances: two routers on a 3-node cluster
// each consume a share of the partitions, every sign-in is claimed once;
// when one stops, the other takes its share within 10 s.
func TestPartitionsSharedAcrossInstances(t *testing.T) {
	c := natstest.RunCluster(t, 3)
	_, js := natstest.Connect(t, c.URLs())
	if err := natsjs.EnsureStreams(context.Background(), js, 3); err != nil {
		t.Fatal(err)
	}
	ca, cb := &fakeCommands{}, &fakeCommands{}
	ra, _ := runRouter(t, c.URLs(), ca, signin.Config{Replicas: 3})
	rb, stopB := runRouter(t, c.URLs(), cb, signin.Config{Replicas: 3})
	all := make([]int, natsjs.SigninPartitions)
	for i := range all {
		all[i] = i
	}
	natstest.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		a, b := ra.Owned(), rb.Owned()
		if len(a) == 0 || len(b) == 0 || len(a)+len(b) != len(all) || !slices.Equal(slices.Sorted(slices.Values(append(a, b...))), all) {
			return fmt.Errorf("partitions: a %v, b %v", a, b)
		}
		return nil
	})
	signIns := func(from, n int) {
		for i := from; i < from+n; i++ {
			id := fmt.Sprintf("s%d", i)
			publish(t, js, fmt.Sprintf("sf.signin.t%d", i%40), id, valid(id, fmt.Sprintf("u%d", i)))
		}
	}
	signIns(0, 200)
	natstest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if a, b := len(ca.claimed()), len(cb.claimed()); a+b != 200 || a == 0 || b == 0 {
			return fmt.Errorf("claims: a %d, b %d, want 200 in all, some each", a, b)
		}
		return nil
	})
	seen := map[string]bool{}
	for _, id := range append(ca.claimed(), cb.claimed()...) {
		if seen[id] {
			t.Fatalf("%s claimed twice", id)
		}
		seen[id] = true
	}
	stopB()
	start := time.Now()
	natstest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := ra.Owned(); !slices.Equal(got, all) {
			return fmt.Errorf("a owns %v", got)
		}
		return nil
	})
	t.Logf("take-over after %s", time.Since(start))
	before := len(cb.claimed())
	signIns(200, 200)
	natstest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if a := len(ca.claimed()) + len(cb.claimed()); a != 400 {
			return fmt.Errorf("claims %d, want 400", a)
		}
		return nil
	})
	if len(cb.claimed()) != before {
		t.Errorf("the stopped instance claimed %d more", len(cb.claimed())-before)
	}
}

// TestPartitionTakenOnlyWhenFresh: a router takes its partitions only once
// the process's state has caught up (Fresh), so it never decides on less
// than the previous owner wrote.
func TestPartitionTakenOnlyWhenFresh(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	if err := natsjs.EnsureStreams(context.Background(), js, 1); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	cmds := &fakeCommands{}
	runRouter(t, srv.ClientURL(), cmds, signin.Config{Fresh: func(ctx context.Context) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
	publish(t, js, "sf.signin.contoso", "s1", valid("s1", "u1"))
	time.Sleep(300 * time.Millisecond) // nothing may happen meanwhile; no timing is asserted
	if got := cmds.claimed(); len(got) != 0 {
		t.Fatalf("claimed %v before the state was fresh", got)
	}
	close(release)
	natstest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := cmds.claimed(); !slices.Equal(got, []string{"s1"}) {
			return fmt.Errorf("claims %v, want s1", got)
		}
		return nil
	})
}

// onServers runs test on a single server and on a 3-node cluster, with the
// URL to connect to and the replicas the streams (and the members bucket)
// get.
func onServers(t *testing.T, test func(t *testing.T, url string, js jetstream.JetStream, replicas int)) {
	t.Run("single server", func(t *testing.T) {
		srv := natstest.RunJetStream(t)
		_, js := natstest.Connect(t, srv.ClientURL())
		if err := natsjs.EnsureStreams(context.Background(), js, 1); err != nil {
			t.Fatal(err)
		}
		test(t, srv.ClientURL(), js, 1)
	})
	t.Run("3-node cluster", func(t *testing.T) {
		if testing.Short() {
			t.Skip("3-node cluster")
		}
		c := natstest.RunCluster(t, 3)
		_, js := natstest.Connect(t, c.URLs())
		if err := natsjs.EnsureStreams(context.Background(), js, 3); err != nil {
			t.Fatal(err)
		}
		test(t, c.URLs(), js, 3)
	})
}

// warnings collects the messages of WARN and ERROR records.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	w.msgs = append(w.msgs, msg)
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

// TestStoppedPartitionConfirmsItsAcknowledgement: a partition acknowledges
// its batches without waiting; when it stops it confirms the last
// acknowledgement with the server, so that a hand-over does not deliver
// the batch again: by the time the router has stopped, nothing is pending
// on the consumers and nothing was logged.
func TestStoppedPartitionConfirmsItsAcknowledgement(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	if err := natsjs.EnsureStreams(context.Background(), js, 1); err != nil {
		t.Fatal(err)
	}
	cmds := &fakeCommands{}
	logs := &warnings{}
	_, stop := runRouter(t, srv.ClientURL(), cmds, signin.Config{Logger: slog.New(logs)})
	for i := range 50 {
		id := fmt.Sprintf("s%d", i)
		publish(t, js, "sf.signin.contoso", id, valid(id, fmt.Sprintf("u%d", i)))
	}
	natstest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := len(cmds.claimed()); n != 50 {
			return fmt.Errorf("claimed %d of 50", n)
		}
		return nil
	})
	stop()
	logs.mu.Lock()
	defer logs.mu.Unlock()
	for _, m := range logs.msgs {
		if strings.Contains(m, "acknowledge") {
			t.Errorf("logged: %s", m)
		}
	}
	s, err := js.Stream(context.Background(), natsjs.StreamSignins)
	if err != nil {
		t.Fatal(err)
	}
	for n := range natsjs.SigninPartitions {
		c, err := s.Consumer(context.Background(), signin.ConsumerName(signin.DefaultDurable, n))
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.NumAckPending != 0 || info.NumPending != 0 {
			t.Errorf("partition %d after the stop: %d awaiting acknowledgement, %d pending", n, info.NumAckPending, info.NumPending)
		}
	}
}

// TestHandOverMidStream: an instance that stops while its partition has a
// backlog hands the sign-ins it took but did not handle back to the server,
// so the next owner claims them at once and in arrival order, not after
// AckWait (a minute here) behind newer ones.
func TestHandOverMidStream(t *testing.T) {
	onServers(t, testHandOverMidStream)
}

func testHandOverMidStream(t *testing.T, url string, js jetstream.JetStream, replicas int) {
	cmds := &fakeCommands{delay: 20 * time.Millisecond}
	cfg := signin.Config{BatchSize: 10, AckWait: time.Minute, Replicas: replicas}
	_, stopA := runRouter(t, url, cmds, cfg)
	const n = 300
	var want []string
	for i := range n {
		id := fmt.Sprintf("s%03d", i)
		want = append(want, id)
		publish(t, js, "sf.signin.contoso", id, valid(id, fmt.Sprintf("u%d", i)))
	}
	natstest.CheckFor(t, 10*time.Second, 5*time.Millisecond, func() error {
		if c := len(cmds.claimed()); c < 30 {
			return fmt.Errorf("claimed %d", c)
		}
		return nil
	})
	runRouter(t, url, cmds, cfg)
	stopA()
	start := time.Now()
	natstest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if c := len(cmds.claimed()); c < n {
			return fmt.Errorf("claimed %d of %d", c, n)
		}
		return nil
	})
	t.Logf("the rest claimed %s after the stop", time.Since(start).Round(time.Millisecond))
	if got := cmds.claimed(); !slices.Equal(got, want) {
		t.Fatalf("claims out of order or twice:\n got %v", got)
	}
}

// TestTakeOverFromALostInstance: an instance that vanishes (its
// connection gone, its process hung) holds sign-ins it was delivered and
// never acknowledged. The instance that takes its partition over rewinds
// the consumer to its ack floor, so those are claimed at once and in
// order, not after AckWait (a minute here) behind newer ones.
func TestTakeOverFromALostInstance(t *testing.T) {
	onServers(t, testTakeOverFromALostInstance)
}

func testTakeOverFromALostInstance(t *testing.T, url string, js jetstream.JetStream, replicas int) {
	lostCmds := &fakeCommands{delay: 20 * time.Millisecond}
	cfg := signin.Config{BatchSize: 10, AckWait: time.Minute, MemberTTL: time.Second, PinnedTTL: time.Second, Replicas: replicas}
	lost, _ := runRouter(t, url, lostCmds, cfg)
	const n = 200
	for i := range n {
		id := fmt.Sprintf("s%03d", i)
		publish(t, js, "sf.signin.contoso", id, valid(id, fmt.Sprintf("u%d", i)))
	}
	natstest.CheckFor(t, 10*time.Second, 5*time.Millisecond, func() error {
		if c := len(lostCmds.claimed()); c < 30 {
			return fmt.Errorf("claimed %d", c)
		}
		return nil
	})
	// The instance hangs and loses its connection: it holds what it was
	// delivered, unacknowledged, and stops announcing itself.
	lostCmds.mu.Lock()
	lostCmds.frozen = make(chan struct{})
	lostCmds.mu.Unlock()
	t.Cleanup(func() { close(lostCmds.frozen) })
	lost.Close()
	held := len(lostCmds.claimed())

	cmds := &fakeCommands{}
	runRouter(t, url, cmds, cfg)
	start := time.Now()
	natstest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		got := cmds.claimed()
		if len(got) == 0 || got[len(got)-1] != fmt.Sprintf("s%03d", n-1) {
			return fmt.Errorf("the new owner claimed %d", len(got))
		}
		return nil
	})
	t.Logf("the lost instance claimed %d; the new owner claimed the rest %s after", held, time.Since(start).Round(time.Millisecond))
	got := cmds.claimed()
	first := 0
	fmt.Sscanf(got[0], "s%d", &first)
	if first > held {
		t.Errorf("the new owner started at %s, after what the lost instance claimed (%d): sign-ins skipped", got[0], held)
	}
	for i, id := range got {
		if want := fmt.Sprintf("s%03d", first+i); id != want {
			t.Fatalf("the new owner's claims out of order at %d: got %s, want %s (all: %v)", i, id, want, got)
		}
	}
}
