package natstest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/infra/natstest"
)

func TestRunJetStream(t *testing.T) {
	s := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, s.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	ack, err := js.Publish(ctx, "t.1", []byte("x"))
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if ack.Sequence != 1 {
		t.Errorf("sequence: got %d, want 1", ack.Sequence)
	}
}

func TestCheckFor(t *testing.T) {
	calls := 0
	natstest.CheckFor(t, time.Second, time.Millisecond, func() error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if calls != 3 {
		t.Errorf("calls: got %d, want 3", calls)
	}
}

// TestRunCluster forms a 3-server cluster, places a replicated stream on it,
// shuts the stream's leader down and checks that another server takes over
// and that a client given every URL keeps publishing.
func TestRunCluster(t *testing.T) {
	start := time.Now()
	c := natstest.RunCluster(t, 3)
	t.Logf("cluster ready in %s", time.Since(start))
	if got := len(c.Servers()); got != 3 {
		t.Fatalf("servers: got %d, want 3", got)
	}
	if got := strings.Count(c.URLs(), ",") + 1; got != 3 {
		t.Fatalf("URLs %q: got %d, want 3", c.URLs(), got)
	}
	_, js := natstest.Connect(t, c.URLs())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	c.WaitOnStreamLeader(natstest.Account, "R3")
	if _, err := js.Publish(ctx, "r3.a", []byte("1")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	old := c.StreamLeader(natstest.Account, "R3")
	if old == nil {
		t.Fatal("no stream leader after WaitOnStreamLeader")
	}
	start = time.Now()
	c.Shutdown(old)
	c.WaitOnStreamLeader(natstest.Account, "R3")
	t.Logf("new stream leader after %s", time.Since(start))
	c.WaitReady() // the two left still have a meta leader
	if now := c.StreamLeader(natstest.Account, "R3"); now == old {
		t.Fatalf("stream leader: got the shut down server %s", now.Name())
	}
	natstest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		// The message ID makes a retry of a publish that landed harmless.
		ack, err := js.Publish(pctx, "r3.a", []byte("2"), jetstream.WithMsgID("second"))
		if err != nil {
			return err
		}
		if ack.Sequence != 2 {
			return fmt.Errorf("sequence: got %d, want 2", ack.Sequence)
		}
		return nil
	})
}
