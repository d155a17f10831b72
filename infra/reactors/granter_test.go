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
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/reactors"
)

// fakeGranting moves each policy's queue moves[policy] times.
type fakeGranting struct {
	mu    sync.Mutex
	moves map[string]int
	calls []string
}

func (f *fakeGranting) GrantNext(_ context.Context, tenant domain.TenantID, pid domain.PolicyID, _ domain.ClaimOptions) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, string(tenant)+"/"+string(pid))
	if f.moves[string(pid)] > 0 {
		f.moves[string(pid)]--
		return true, nil
	}
	return false, nil
}

func (f *fakeGranting) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.calls)
	f.calls = nil
	return out
}

func newGranter(t *testing.T, cfg reactors.GranterConfig) *reactors.Granter {
	t.Helper()
	g, err := reactors.NewGranter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGranterLooksAtPoliciesWhereSeatsAppear(t *testing.T) {
	fg := &fakeGranting{moves: map[string]int{"p1": 2}}
	g := newGranter(t, reactors.GranterConfig{Commands: fg})
	apply := func(kind events.Kind, id string, d events.Data) {
		g.Apply(events.New("e", "contoso", events.Aggregate{Kind: kind, ID: id}, time.Now(), events.Meta{CommandID: "c"}, d))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	expect := func(want ...string) {
		t.Helper()
		var got []string
		natstest.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
			got = append(got, fg.called()...)
			if !slices.Equal(got, want) {
				return fmt.Errorf("grant calls: got %v, want %v", got, want)
			}
			return nil
		})
	}
	apply(events.KindPolicy, "p1", events.PolicyCreated{PolicyID: "p1", Products: []events.PolicyProduct{{ProductID: "P"}}})
	// p1 moves twice, then stays: three calls.
	expect("contoso/p1", "contoso/p1", "contoso/p1")
	apply(events.KindProduct, "X", events.LicensesPurchased{ProductID: "X", Count: 1})
	apply(events.KindProduct, "P", events.LicenseUnassigned{ProductID: "P", UserID: "u"})
	expect("contoso/p1")
	apply(events.KindPolicy, "p1", events.PolicyStatusChanged{PolicyID: "p1", Enabled: false})
	apply(events.KindOrg, "org", events.AutoClaimSettingChanged{Enabled: true})
	expect("contoso/p1")
}

// TestGranterRestoreLooksAtEveryPolicy: after a restore from a checkpoint
// (no replay), every policy gets one look, and the index still works.
func TestGranterRestoreLooksAtEveryPolicy(t *testing.T) {
	g := newGranter(t, reactors.GranterConfig{Commands: &fakeGranting{}})
	g.Apply(events.New("e", "contoso", events.Aggregate{Kind: events.KindPolicy, ID: "p1"}, time.Now(), events.Meta{CommandID: "c"},
		events.PolicyCreated{PolicyID: "p1", Products: []events.PolicyProduct{{ProductID: "P"}}}))
	snap, err := g.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	fg := &fakeGranting{}
	g2 := newGranter(t, reactors.GranterConfig{Commands: fg})
	if err := g2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g2.Run(ctx) }()
	defer func() { cancel(); <-done }()
	natstest.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if got := fg.called(); !slices.Equal(got, []string{"contoso/p1"}) {
			return fmt.Errorf("calls after restore: %v", got)
		}
		return nil
	})
	g2.Apply(events.New("e", "contoso", events.Aggregate{Kind: events.KindProduct, ID: "P"}, time.Now(), events.Meta{CommandID: "c"},
		events.LicensesPurchased{ProductID: "P", Count: 1}))
	natstest.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if got := fg.called(); !slices.Equal(got, []string{"contoso/p1"}) {
			return fmt.Errorf("calls after a purchase: %v", got)
		}
		return nil
	})
}

// TestGranterServesCappedQueuesWhenTheDayRollsOver: with an injected
// clock, a new UTC day makes the granter look at the capped policies (and
// only those) once; the same day again does nothing.
func TestGranterServesCappedQueuesWhenTheDayRollsOver(t *testing.T) {
	var (
		mu    sync.Mutex
		clock = time.Date(2026, 11, 2, 23, 59, 0, 0, time.UTC)
	)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	fg := &fakeGranting{moves: map[string]int{}}
	g := newGranter(t, reactors.GranterConfig{Commands: fg, Now: now, RolloverEvery: time.Millisecond})
	apply := func(id string, d events.Data) {
		g.Apply(events.New("e", "contoso", events.Aggregate{Kind: events.KindPolicy, ID: id}, time.Now(), events.Meta{CommandID: "c"}, d))
	}
	five := 5
	apply("p1", events.PolicyCreated{PolicyID: "p1", Products: []events.PolicyProduct{{ProductID: "P"}}})
	apply("p2", events.PolicyCreated{PolicyID: "p2", Products: []events.PolicyProduct{{ProductID: "Q"}}})
	apply("p1", events.PolicyLimitsChanged{PolicyID: "p1", DailyCap: &five})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	seen := map[string]bool{}
	natstest.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		for _, c := range fg.called() {
			seen[c] = true
		}
		if !seen["contoso/p1"] || !seen["contoso/p2"] {
			return fmt.Errorf("first looks: got %v, want p1 and p2", seen)
		}
		return nil
	})
	if g.Rollover() {
		t.Fatal("the same day counted as a rollover")
	}
	mu.Lock()
	clock = clock.Add(2 * time.Minute) // the next UTC day
	mu.Unlock()
	var got []string
	natstest.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		got = append(got, fg.called()...)
		if !slices.Equal(got, []string{"contoso/p1"}) {
			return fmt.Errorf("grant calls after the rollover: got %v, want [contoso/p1]", got)
		}
		return nil
	})
}
