package domain_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/memstore"
)

// faultyStore is a store double that can be told to let a rival write land
// first (a conflict) or to lose the answer to an append that did land.
type faultyStore struct {
	mu      sync.Mutex
	log     []events.Envelope
	loads   int
	before  func(s *faultyStore)              // runs once before the next append
	lose    bool                              // store the next append, then report an error
	afters  []uint64                          // the after of every Load
	loadLog []string                          // kind/id@after of every Load
	written [][]string                        // the aggregates (kind/id) of every append stored
	refuse  func(writes []domain.Write) error // if set, refuses an append it returns an error for
}

func (s *faultyStore) last(agg events.Aggregate) uint64 {
	var pos uint64
	for _, e := range s.log {
		if e.Aggregate == agg {
			pos = e.Position
		}
	}
	return pos
}

func (s *faultyStore) Load(_ context.Context, tenant string, agg events.Aggregate, after uint64) ([]events.Envelope, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	s.afters = append(s.afters, after)
	s.loadLog = append(s.loadLog, fmt.Sprintf("%s/%s@%d", agg.Kind, agg.ID, after))
	var out []events.Envelope
	for _, e := range s.log {
		if e.Tenant == tenant && e.Aggregate == agg && e.Position > after {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *faultyStore) Append(_ context.Context, writes ...domain.Write) ([]uint64, error) {
	s.mu.Lock()
	if f := s.before; f != nil {
		s.before = nil
		s.mu.Unlock()
		f(s)
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if s.refuse != nil {
		if err := s.refuse(writes); err != nil {
			return nil, err
		}
	}
	for _, w := range writes {
		if got := s.last(w.Events[0].Aggregate); got != w.Expected {
			return nil, fmt.Errorf("expected %d, last is %d: %w", w.Expected, got, domain.ErrConcurrency)
		}
	}
	var (
		pos  []uint64
		aggs []string
	)
	for _, w := range writes {
		aggs = append(aggs, string(w.Events[0].Aggregate.Kind)+"/"+w.Events[0].Aggregate.ID)
		for _, e := range w.Events {
			e.Position = uint64(len(s.log) + 1)
			s.log = append(s.log, e)
			pos = append(pos, e.Position)
		}
	}
	s.written = append(s.written, aggs)
	if s.lose {
		s.lose = false
		return nil, errors.New("nats: timeout")
	}
	return pos, nil
}

// rival appends an event as another process would, bypassing the service.
func (s *faultyStore) rival(d events.Data) {
	s.mu.Lock()
	defer s.mu.Unlock()
	agg := events.Aggregate{Kind: events.KindProduct, ID: "e5"}
	e := events.New(fmt.Sprintf("rival-%d", len(s.log)), "contoso", agg, now, events.Meta{CommandID: fmt.Sprintf("rival-%d", len(s.log))}, d)
	e.Position = uint64(len(s.log) + 1)
	s.log = append(s.log, e)
}

func newService(t *testing.T, store domain.Store, opts ...func(*domain.Config)) *domain.Service {
	t.Helper()
	var n atomic.Int64
	cfg := domain.Config{
		Now:     func() time.Time { return now },
		NewID:   func() string { return fmt.Sprintf("id-%d", n.Add(1)) },
		Backoff: time.Microsecond, MaxBackoff: time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := domain.NewService(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// inParts is a newService option: ClaimBatch appends in parts.
func inParts(c *domain.Config) { c.AppendInParts = true }

var ctx = context.Background()

func product(t *testing.T, svc *domain.Service, cmdID string, cmd domain.ProductCommand) (domain.ProductSummary, domain.Result, error) {
	t.Helper()
	return svc.Product(ctx, "contoso", "e5", events.Meta{Actor: "ada", CommandID: cmdID}, cmd)
}

func mustAdd(t *testing.T, svc *domain.Service, licenses int) {
	t.Helper()
	if _, _, err := product(t, svc, "add", domain.AddProduct{Name: "E5", Licenses: licenses, SelfService: "blocked"}); err != nil {
		t.Fatal(err)
	}
}

func TestServiceRetriesAfterARivalWrite(t *testing.T) {
	store := &faultyStore{}
	svc := newService(t, store)
	mustAdd(t, svc, 1)
	// Another process takes the only seat between our decision and append:
	// the retry must see it and refuse, never over-assign.
	store.before = func(s *faultyStore) {
		s.rival(events.LicenseAssigned{ProductID: "e5", UserID: "rival", DisabledServices: []string{}, Source: events.Source{Kind: "manual"}})
	}
	_, _, err := product(t, svc, "a1", domain.AssignLicense{UserID: "u1", Source: events.Source{Kind: "manual"}})
	if !errors.Is(err, domain.ErrNoLicensesAvailable) {
		t.Fatalf("got %v, want ErrNoLicensesAvailable", err)
	}
	// With a seat free again, a rival takes it and buys another between our
	// decision and append: the retry sees both and the assignment lands.
	if _, _, err := product(t, svc, "buy", domain.PurchaseLicenses{Count: 1}); err != nil {
		t.Fatal(err)
	}
	store.before = func(s *faultyStore) {
		s.rival(events.LicenseAssigned{ProductID: "e5", UserID: "rival2", DisabledServices: []string{}, Source: events.Source{Kind: "manual"}})
		s.rival(events.LicensesPurchased{ProductID: "e5", Count: 1})
	}
	sum, res, err := product(t, svc, "a2", domain.AssignLicense{UserID: "u1", Source: events.Source{Kind: "manual"}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Assigned != 3 || sum.Purchased != 3 || res.Position != 6 {
		t.Fatalf("got %+v at %d, want 3 of 3 assigned at position 6", sum, res.Position)
	}
}

func TestServiceConfirmsRejectionsAgainstTheStore(t *testing.T) {
	store := &faultyStore{}
	svc := newService(t, store)
	mustAdd(t, svc, 0)
	// The cache says no seats; another process bought some meanwhile.
	store.rival(events.LicensesPurchased{ProductID: "e5", Count: 1})
	if _, _, err := product(t, svc, "a1", domain.AssignLicense{UserID: "u1", Source: events.Source{Kind: "manual"}}); err != nil {
		t.Fatalf("got %v, want the assignment to see the rival purchase", err)
	}
}

func TestServiceReplaysACommandWhoseAnswerWasLost(t *testing.T) {
	store := &faultyStore{}
	svc := newService(t, store)
	mustAdd(t, svc, 5)
	store.lose = true
	if _, _, err := product(t, svc, "buy", domain.PurchaseLicenses{Count: 3}); err == nil {
		t.Fatal("the lost answer was not reported")
	}
	// The client retries with the same command ID: the purchase stands once.
	sum, res, err := product(t, svc, "buy", domain.PurchaseLicenses{Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Replayed || sum.Purchased != 8 || res.Position != 2 {
		t.Fatalf("got %+v %+v, want a replay at position 2 with 8 purchased", sum, res)
	}
	if len(store.log) != 2 {
		t.Fatalf("store holds %d events, want 2", len(store.log))
	}
}

func TestServiceGivesUpAfterMaxAttempts(t *testing.T) {
	store := &faultyStore{}
	var n atomic.Int64
	svc, _ := domain.NewService(store, domain.Config{Now: func() time.Time { return now },
		NewID: func() string { return fmt.Sprint(n.Add(1)) }, MaxAttempts: 3, Backoff: time.Microsecond})
	mustAdd(t, svc, 5)
	var rivalry func(s *faultyStore)
	rivalry = func(s *faultyStore) {
		s.rival(events.LicensesPurchased{ProductID: "e5", Count: 1})
		s.before = rivalry // always lose the race
	}
	store.before = rivalry
	_, _, err := product(t, svc, "x", domain.PurchaseLicenses{Count: 1})
	if !errors.Is(err, domain.ErrConcurrency) {
		t.Fatalf("got %v, want ErrConcurrency after the attempts run out", err)
	}
}

func TestServiceValidatesIdentifiers(t *testing.T) {
	svc := newService(t, &faultyStore{})
	var verr *domain.ValidationError
	if _, _, err := svc.Product(ctx, "Bad.Tenant", "e5", events.Meta{}, domain.PurchaseLicenses{Count: 1}); !errors.As(err, &verr) {
		t.Fatalf("bad tenant: got %v", err)
	}
	if _, _, err := svc.Product(ctx, "contoso", "e5.*", events.Meta{}, domain.PurchaseLicenses{Count: 1}); !errors.As(err, &verr) {
		t.Fatalf("wildcard product id: got %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := domain.NewService(&faultyStore{}, domain.Config{}); err == nil {
		t.Fatal("a service without a clock or ID source was created")
	}
}

// laggingReplica is a store whose Load answers from a replica that has not
// seen the user aggregates yet, while LoadLatest answers from the leader.
type laggingReplica struct{ domain.Store }

func (l laggingReplica) Load(ctx context.Context, tenant string, agg events.Aggregate, after uint64) ([]events.Envelope, error) {
	if agg.Kind == events.KindUser {
		return nil, nil
	}
	return l.Store.Load(ctx, tenant, agg, after)
}

func (l laggingReplica) LoadLatest(ctx context.Context, tenant string, agg events.Aggregate, after uint64) ([]events.Envelope, error) {
	return l.Store.Load(ctx, tenant, agg, after)
}

// TestRefusalConfirmedAgainstTheLeader: a request naming a user registered
// moments before through another instance is not refused because the
// replica that answered the first read had not seen the registration yet:
// a refusal is confirmed against the leader's head first.
func TestRefusalConfirmedAgainstTheLeader(t *testing.T) {
	inner := &faultyStore{}
	writer := newService(t, inner)
	meta := func(id string) events.Meta { return events.Meta{Actor: "ada", CommandID: id} }
	if _, _, err := writer.Product(ctx, "contoso", "e5", meta("p"), domain.AddProduct{Name: "E5", Licenses: 1, SelfService: "blocked"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"u1", "u2"} {
		if _, _, err := writer.RegisterUser(ctx, "contoso", domain.UserID(u), meta("reg-"+u), domain.RegisterUser{Email: u + "@example.com", DisplayName: u}); err != nil {
			t.Fatal(err)
		}
	}
	reader := newService(t, laggingReplica{inner})
	_, err := reader.SubmitRequest(ctx, "contoso", "r1", meta("submit"), domain.SubmitRequest{ProductID: "e5", Requester: "u1", Users: []domain.UserID{"u2"}})
	if err != nil {
		t.Fatalf("submit decided on a lagging replica: %v, want it confirmed against the leader and accepted", err)
	}
	// A refusal the leader confirms stays a refusal.
	_, err = reader.SubmitRequest(ctx, "contoso", "r2", meta("submit2"), domain.SubmitRequest{ProductID: "e5", Requester: "u1", Users: []domain.UserID{"nobody"}})
	if !matches(err, &domain.NotFoundError{}) {
		t.Fatalf("request for an unknown user: %v, want not found", err)
	}
}

// TestServiceRecognisesARepeatFromLongerAgoThanMemory: an aggregate keeps
// only the last CommandWindow of its commands in memory; a command repeated
// later than that (an HTTP client retrying an hour later with its
// Idempotency-Key, or with the Seatflow-Command-Id of a lost answer) is
// looked up in the store and answers as the first time, once, within
// CommandMemory. Past CommandMemory it is decided afresh, as documented.
func TestServiceRecognisesARepeatFromLongerAgoThanMemory(t *testing.T) {
	start := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		id      string
		hint    bool          // the HTTP layer says when the key was first seen
		after   time.Duration // when the repeat comes
		applied bool          // whether the repeat buys again
	}{
		{"a ULID command id, an hour later", ulid.MustNew(ulid.Timestamp(start), nil).String(), false, time.Hour, false},
		{"an Idempotency-Key first seen at the purchase, an hour later", "key-7f3a", true, time.Hour, false},
		{"a ULID command id, within the window", ulid.MustNew(ulid.Timestamp(start), nil).String(), false, time.Minute, false},
		{"a ULID command id, past CommandMemory", ulid.MustNew(ulid.Timestamp(start), nil).String(), false, domain.CommandMemory + time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := start
			var n atomic.Int64
			store := memstore.New(events.Default())
			svc, err := domain.NewService(store, domain.Config{Now: func() time.Time { return clock },
				NewID: func() string { return fmt.Sprintf("ev-%d", n.Add(1)) }})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.hint {
				ctx = domain.WithCommandIssued(ctx, start)
			}
			buy := func(id string) (domain.ProductSummary, domain.Result) {
				t.Helper()
				sum, res, err := svc.Product(ctx, "contoso", "e5", events.Meta{Actor: "ada", CommandID: id}, domain.PurchaseLicenses{Count: 3})
				if err != nil {
					t.Fatal(err)
				}
				return sum, res
			}
			if _, _, err := svc.Product(ctx, "contoso", "e5", events.Meta{Actor: "ada", CommandID: "add"},
				domain.AddProduct{Name: "E5", Licenses: 5, SelfService: "blocked"}); err != nil {
				t.Fatal(err)
			}
			_, first := buy(tc.id)
			// Other purchases a minute apart move the product's memory on.
			others := int(min(tc.after, 2*domain.CommandWindow) / time.Minute)
			for i := range others {
				clock = clock.Add(time.Minute)
				if _, _, err := svc.Product(context.Background(), "contoso", "e5", events.Meta{Actor: "ada", CommandID: fmt.Sprintf("other-%d", i)},
					domain.PurchaseLicenses{Count: 1}); err != nil {
					t.Fatal(err)
				}
			}
			clock = start.Add(tc.after)
			sum, res := buy(tc.id)
			want := 5 + 3 + others
			if tc.applied {
				want += 3
			}
			if sum.Purchased != want || res.Replayed == tc.applied {
				t.Fatalf("repeat: %d purchased, replayed %v; want %d purchased, replayed %v", sum.Purchased, res.Replayed, want, !tc.applied)
			}
			if !tc.applied && res.Position != first.Position {
				t.Fatalf("the repeat answers position %d, the purchase stood at %d", res.Position, first.Position)
			}
		})
	}
}
