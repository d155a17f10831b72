package wmrouter_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/wmrouter"
)

type rawUnmarshaler struct{}

func (rawUnmarshaler) Unmarshal(m jetstream.Msg) (*message.Message, error) {
	return message.NewMessage(m.Subject(), m.Data()), nil
}

func TestNewValidates(t *testing.T) {
	if _, err := wmrouter.New(context.Background(), wmrouter.Config{}); err == nil {
		t.Fatal("a router without connection, stream, durable or handler was built")
	}
}

// TestDurableConsumerOutlivesTheRouter: the consumer is created durable with
// one message in flight, a failing message is retried and not lost, and
// what arrives while no router runs is delivered to the next one.
func TestDurableConsumerOutlivesTheRouter(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	var failedOnce atomic.Bool
	run := func() (stop func()) {
		nc, err := nats.Connect(srv.ClientURL(), natstest.Options()...) // the router's own: it closes it
		if err != nil {
			t.Fatal(err)
		}
		r, err := wmrouter.New(ctx, wmrouter.Config{Conn: nc, Stream: "T", Durable: "d", Filter: "t.>",
			AckWait: 5 * time.Second, Redelay: 10 * time.Millisecond, Retries: 2, RetryMin: time.Millisecond, RetryMax: time.Millisecond,
			Unmarshaler: rawUnmarshaler{}, Name: "test",
			Handler: func(m *message.Message) error {
				if string(m.Payload) == "flaky" && !failedOnce.Swap(true) {
					return errors.New("transient")
				}
				got.Add(1)
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		// Run as the service does, with wmrouter.Run: it drains the
		// connection before it stops the router, so no delivery races the
		// subscriber's close (watermill-nats closes its output channel when
		// its context ends, and a delivery in flight then panics).
		rctx, rcancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- wmrouter.Run(rctx, r, nc) }()
		<-r.Running()
		return func() {
			rcancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	stop := run()
	for _, p := range []string{"a", "flaky", "b"} {
		if _, err := js.Publish(ctx, "t.x", []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	natstest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got.Load() != 3 {
			return errors.New("not all handled")
		}
		return nil
	})
	stop()
	info, err := js.Consumer(ctx, "T", "d")
	if err != nil {
		t.Fatalf("the durable consumer did not survive the router: %v", err)
	}
	if ci := info.CachedInfo(); ci.Config.MaxAckPending != 1 || ci.Config.Durable != "d" {
		t.Fatalf("consumer config: got durable %q max ack pending %d, want d and 1", ci.Config.Durable, ci.Config.MaxAckPending)
	}
	if _, err := js.Publish(ctx, "t.x", []byte("while down")); err != nil {
		t.Fatal(err)
	}
	stop = run()
	defer stop()
	natstest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got.Load() != 4 {
			return errors.New("the message published while no router ran was not delivered")
		}
		return nil
	})
}
