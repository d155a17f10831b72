package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/notify"
)

// TestNotifiersNeverPublishTwice runs two notifiers with separate durable
// consumers over the same events, as after a lost acknowledgement or with
// two instances: each notification is stored once. A message on sf.evt.>
// that is not an event is skipped, not fatal.
func TestNotifiersNeverPublishTwice(t *testing.T) {
	s := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, s.ClientURL())
	ctx := context.Background()
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	l, history := lookup(t)
	history = append(history, ev("e7", events.KindRequest, "r1", "ada",
		events.RequestApproved{RequestID: "r1", ProductID: "e5", Approved: []string{"u1"}, Rejected: []string{"u2"}, AlreadyLicensed: []string{}}))
	if _, err := js.Publish(ctx, "sf.evt.contoso.user.garbage", []byte("not an event")); err != nil {
		t.Fatal(err)
	}
	for _, e := range history {
		b, err := events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: e.Subject(), Data: b}); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 2)
	for i := range 2 {
		n, err := notify.NewNotifier(ctx, notify.NotifierConfig{URL: s.ClientURL(), Options: natstest.Options(), Registry: events.Default(),
			Rules: notify.RequestRules(), Lookup: l, Durable: fmt.Sprintf("notifier-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		go func() { done <- n.Run(runCtx) }()
	}
	// Expect: submitted to ada and lia, approved to u1, denied to u2.
	want := map[string]bool{"e6:request.submitted:ada": true, "e6:request.submitted:lia": true,
		"e7:request.approved:u1": true, "e7:request.denied:u2": true}
	stream, err := js.Stream(ctx, "SEATFLOW_NOTIFY")
	if err != nil {
		t.Fatal(err)
	}
	// Both notifiers have passed the last event once each durable has
	// acknowledged everything.
	natstest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		for i := range 2 {
			c, err := js.Consumer(ctx, "SEATFLOW_EVENTS", fmt.Sprintf("notifier-%d", i))
			if err != nil {
				return err
			}
			info, err := c.Info(ctx)
			if err != nil {
				return err
			}
			if info.NumPending != 0 || info.NumAckPending != 0 {
				return fmt.Errorf("notifier-%d: %d pending, %d unacknowledged", i, info.NumPending, info.NumAckPending)
			}
		}
		return nil
	})
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(want)) {
		t.Fatalf("notifications stored: got %d, want %d", info.State.Msgs, len(want))
	}
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var n notify.Notification
		if err := json.Unmarshal(m.Data, &n); err != nil {
			t.Fatal(err)
		}
		if !want[n.ID] || m.Header.Get(jetstream.MsgIDHeader) != n.ID || m.Subject != "sf.notify.contoso.email" {
			t.Fatalf("unexpected notification %s on %s (msg id %q)", n.ID, m.Subject, m.Header.Get(jetstream.MsgIDHeader))
		}
		delete(want, n.ID)
	}
}
