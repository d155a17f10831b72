package reactors_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/memstore"
	"github.com/seatflow/seatflow/infra/reactors"
	"github.com/seatflow/seatflow/projections"
)

func TestExpiryWarnsOnceAndExpiresOnce(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	set := func(t time.Time) { mu.Lock(); clock = t; mu.Unlock() }
	reqs := projections.NewRequests()
	f := &feed{Store: memstore.New(events.Default()), models: []projections.Projection{reqs}}
	n := 0
	svc, err := domain.NewService(f, domain.Config{Now: now, NewID: func() string { n++; return fmt.Sprintf("id%d", n) }})
	if err != nil {
		t.Fatal(err)
	}
	meta := events.Meta{Actor: "ada", CommandID: "setup"}
	if _, _, err := svc.Product(ctx, "contoso", "e5", meta, domain.AddProduct{Name: "E5", Licenses: 1, SelfService: "blocked"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.RegisterUser(ctx, "contoso", "u1", events.Meta{CommandID: "reg"}, domain.RegisterUser{Email: "u1@x.com", DisplayName: "U1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SubmitRequest(ctx, "contoso", "r1", events.Meta{CommandID: "sub"}, domain.SubmitRequest{ProductID: "e5", Requester: "u1", PendingFor: 10 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	start := now()
	// Two schedulers, as two instances would run.
	var scheds []*reactors.Expiry
	for range 2 {
		s, err := reactors.NewExpiry(reactors.ExpiryConfig{Commands: svc, Due: reqs, Now: now, WarnBefore: 2 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		scheds = append(scheds, s)
	}
	tick := func() {
		for _, s := range scheds {
			s.Tick(ctx)
		}
	}
	count := f.count
	tick()
	if count(events.TypeRequestExpiryWarned)+count(events.TypeRequestExpired) != 0 {
		t.Fatal("a fresh request was warned or expired")
	}
	set(start.Add(8*24*time.Hour + time.Minute))
	tick()
	tick()
	if got := count(events.TypeRequestExpiryWarned); got != 1 {
		t.Fatalf("warnings: got %d, want 1", got)
	}
	set(start.Add(10*24*time.Hour + time.Minute))
	tick()
	tick()
	if got := count(events.TypeRequestExpired); got != 1 {
		t.Fatalf("expiries: got %d, want 1", got)
	}
	if d, _ := reqs.Details("contoso", "r1"); d.Status != projections.RequestExpired {
		t.Fatalf("status: %s", d.Status)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Contains(f.types, events.TypeRequestSubmitted) {
		t.Fatal("history lost")
	}
}
