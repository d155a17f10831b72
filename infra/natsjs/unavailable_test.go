package natsjs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
)

// TestStoreUnavailable: with the server gone, Load and Append fail with
// domain.ErrUnavailable (so the API answers 503, not 500).
func TestStoreUnavailable(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	store := natsjs.NewStore(js, events.Default())
	srv.Shutdown()
	srv.WaitForShutdown()

	agg := events.Aggregate{Kind: events.KindProduct, ID: "e5"}
	short, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	if _, err := store.Load(short, "contoso", agg, 0); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("Load: got %v, want ErrUnavailable", err)
	}
	env := events.New("01JX", "contoso", agg, time.Now(), events.Meta{CommandID: "c1"},
		events.LicensesPurchased{ProductID: "e5", Count: 1})
	short2, cancel3 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel3()
	if _, err := store.Append(short2, domain.Write{Expected: 0, Events: []events.Envelope{env}}); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("Append: got %v, want ErrUnavailable", err)
	}
}
