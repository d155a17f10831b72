package reactors_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/memstore"
	"github.com/seatflow/seatflow/infra/reactors"
	"github.com/seatflow/seatflow/projections"
)

// seen is an in-memory last-seen store.
type seen struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (s *seen) LastSeen(_ context.Context, tenant, app, user string) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.at[tenant+"/"+app+"/"+user]
	return at, ok, nil
}

func (s *seen) set(user string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at["contoso/teams/"+user] = at
}

// TestReclaimWarnsThenReclaimsOnce: two reactors (two instances) tick
// together on an injected clock; each license is warned once per absence
// and reclaimed once, and a sign-in after the warning keeps the license.
func TestReclaimWarnsThenReclaimsOnce(t *testing.T) {
	ctx := context.Background()
	day0 := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := day0
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	setDay := func(d int) { mu.Lock(); clock = day0.AddDate(0, 0, d); mu.Unlock() }
	cands := projections.NewReclaimCandidates()
	f := &feed{Store: memstore.New(events.Default()), models: []projections.Projection{cands}}
	n := 0
	svc, err := domain.NewService(f, domain.Config{Now: now, NewID: func() string { n++; return fmt.Sprintf("id%d", n) }})
	if err != nil {
		t.Fatal(err)
	}
	meta := func(id string) events.Meta { return events.Meta{Actor: "ada", CommandID: id} }
	if _, _, err := svc.Product(ctx, "contoso", "P", meta("p"), domain.AddProduct{Name: "P", Licenses: 5, SelfService: "blocked"}); err != nil {
		t.Fatal(err)
	}
	after, warn := 10, 3
	if _, _, err := svc.Policy(ctx, "contoso", "p1", meta("pol"), domain.CreatePolicy{Name: "Teams", App: "teams",
		Products: []events.PolicyProduct{{ProductID: "P"}}, Limits: domain.PolicyLimits{ReclaimAfterDays: &after, ReclaimWarnDays: &warn}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.SetAutoClaim(ctx, "contoso", meta("on"), true); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"u1", "u2"} {
		if _, _, err := svc.Claim(ctx, "contoso", domain.SignIn{ID: "s-" + u, UserID: domain.UserID(u), App: "teams", At: day0}, domain.ClaimOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	last := &seen{at: map[string]time.Time{}}
	var rs []*reactors.Reclaim
	for range 2 {
		r, err := reactors.NewReclaim(reactors.ReclaimConfig{Commands: svc, Due: cands, LastSeen: last, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	tick := func() {
		for _, r := range rs {
			r.Tick(ctx)
		}
	}
	for _, step := range []struct {
		day          int
		signIn       string // a user who signed in that day, before the tick
		warned, gone int
	}{
		{day: 6, warned: 0},
		{day: 7, warned: 2},
		{day: 8, signIn: "u2", warned: 2},
		{day: 9, warned: 2},
		{day: 10, warned: 2, gone: 1},
		{day: 11, warned: 2, gone: 1},
		{day: 15, warned: 3, gone: 1}, // u2 idle since day 8
		{day: 18, warned: 3, gone: 2},
	} {
		setDay(step.day)
		if step.signIn != "" {
			last.set(step.signIn, now())
		}
		tick()
		tick()
		if got := f.count(events.TypeLicenseReclaimWarned); got != step.warned {
			t.Fatalf("day %d: %d warnings, want %d", step.day, got, step.warned)
		}
		if got := f.count(events.TypeLicenseReclaimed); got != step.gone {
			t.Fatalf("day %d: %d reclaims, want %d", step.day, got, step.gone)
		}
	}
}
