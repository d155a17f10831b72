package natsjs_test

import (
	"errors"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
)

// TestAppendRetryOfStoredEvent appends an event, then the very same event
// again (a retry after a lost acknowledgement). A replicated stream checks
// Nats-Msg-Id first and acknowledges a duplicate, so Append returns the
// original position; a single server checks the expected sequence first
// and refuses it, so Append reports a conflict and the caller finds its
// command on reload. Either way the event is stored once.
func TestAppendRetryOfStoredEvent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		replicas int
	}{
		{"single server", 1},
		{"cluster R3", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *natstest.Cluster
			url := ""
			if tc.replicas == 1 {
				url = natstest.RunJetStream(t).ClientURL()
			} else {
				c = natstest.RunCluster(t, 3)
				url = c.URLs()
			}
			_, js := natstest.Connect(t, url)
			ctx := testCtx(t)
			if err := natsjs.EnsureStreams(ctx, js, tc.replicas); err != nil {
				t.Fatal(err)
			}
			if c != nil {
				c.WaitOnStreamLeader(natstest.Account, natsjs.StreamEvents)
			}
			store := natsjs.NewStore(js, events.Default())
			agg := productAgg("retry")
			e := purchased("acme", agg, 1)
			first, err := store.Append(ctx, domain.Write{Expected: 0, Events: []events.Envelope{e}})
			if err != nil {
				t.Fatal(err)
			}
			again, err := store.Append(ctx, domain.Write{Expected: 0, Events: []events.Envelope{e}})
			switch tc.replicas {
			case 1:
				if !errors.Is(err, domain.ErrConcurrency) {
					t.Fatalf("retry on a single server: got %v, %v; want ErrConcurrency", again, err)
				}
			default:
				if err != nil || len(again) != 1 || again[0] != first[0] {
					t.Fatalf("retry on a cluster: got %v, %v; want [%d], nil", again, err, first[0])
				}
			}
			evs, err := store.Load(ctx, "acme", agg, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 {
				t.Fatalf("events: got %d, want 1", len(evs))
			}
		})
	}
}
