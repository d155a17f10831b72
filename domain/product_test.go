package domain_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// given folds events into a fresh product e5, as the service does on load.
func given(evs ...events.Data) *domain.Product { return fold("e5", evs...) }

// fold folds events into a fresh product id, as the service does on load.
func fold(id string, evs ...events.Data) *domain.Product {
	p := &domain.Product{ID: domain.ProductID(id)}
	for _, d := range evs {
		domain.EvolveProduct(p, events.New("ev", "contoso", events.Aggregate{Kind: events.KindProduct, ID: id}, now,
			events.Meta{CommandID: "c"}, d))
	}
	return p
}

var (
	added    = events.ProductAdded{ProductID: "e5", Name: "E5", Services: []string{"mail", "chat"}, Licenses: 2, SelfService: events.SelfServiceBlocked}
	manual   = events.Source{Kind: events.SourceManual}
	assignU1 = events.LicenseAssigned{ProductID: "e5", UserID: "u1", DisabledServices: []string{}, Source: manual}
	assignU2 = events.LicenseAssigned{ProductID: "e5", UserID: "u2", DisabledServices: []string{}, Source: manual}
)

func TestDecideProduct(t *testing.T) {
	tests := []struct {
		name    string
		given   []events.Data
		when    domain.ProductCommand
		then    []events.Data
		wantErr error // matched with errors.Is, or by type for typed errors
	}{
		{
			name: "add a product",
			when: domain.AddProduct{Name: "E5", Services: []string{"mail", "chat"}, Licenses: 2, SelfService: events.SelfServiceBlocked},
			then: []events.Data{added},
		},
		{
			name:    "add twice",
			given:   []events.Data{added},
			when:    domain.AddProduct{Name: "E5", Licenses: 1, SelfService: events.SelfServiceAllowed},
			wantErr: domain.ErrAlreadyExists,
		},
		{name: "add without name", when: domain.AddProduct{Licenses: 1, SelfService: "allowed"}, wantErr: &domain.ValidationError{}},
		{name: "add negative licenses", when: domain.AddProduct{Name: "x", Licenses: -1, SelfService: "allowed"}, wantErr: &domain.ValidationError{}},
		{name: "add bad self-service", when: domain.AddProduct{Name: "x", Licenses: 1, SelfService: "maybe"}, wantErr: &domain.ValidationError{}},
		{name: "add duplicate service", when: domain.AddProduct{Name: "x", Services: []string{"a", "a"}, SelfService: "allowed"}, wantErr: &domain.ValidationError{}},
		{name: "purchase on missing product", when: domain.PurchaseLicenses{Count: 1}, wantErr: &domain.NotFoundError{}},
		{
			name:  "purchase",
			given: []events.Data{added},
			when:  domain.PurchaseLicenses{Count: 3},
			then:  []events.Data{events.LicensesPurchased{ProductID: "e5", Count: 3}},
		},
		{name: "purchase zero", given: []events.Data{added}, when: domain.PurchaseLicenses{Count: 0}, wantErr: &domain.ValidationError{}},
		{name: "purchase past the cap", given: []events.Data{added}, when: domain.PurchaseLicenses{Count: domain.MaxLicenses}, wantErr: &domain.ValidationError{}},
		{
			name:  "remove free licenses",
			given: []events.Data{added, assignU1},
			when:  domain.RemoveLicenses{Count: 1},
			then:  []events.Data{events.LicensesRemoved{ProductID: "e5", Count: 1}},
		},
		{name: "remove below assigned", given: []events.Data{added, assignU1}, when: domain.RemoveLicenses{Count: 2}, wantErr: domain.ErrBelowAssigned},
		{
			name:  "block self-service",
			given: []events.Data{added, events.SelfServicePurchaseChanged{ProductID: "e5", SelfService: "allowed"}},
			when:  domain.SetSelfService{SelfService: events.SelfServiceBlocked},
			then:  []events.Data{events.SelfServicePurchaseChanged{ProductID: "e5", SelfService: "blocked"}},
		},
		{name: "self-service unchanged", given: []events.Data{added}, when: domain.SetSelfService{SelfService: "blocked"}},
		{
			name:  "assign with a service off",
			given: []events.Data{added},
			when:  domain.AssignLicense{UserID: "u1", DisabledServices: []string{"chat"}, Source: manual},
			then:  []events.Data{events.LicenseAssigned{ProductID: "e5", UserID: "u1", DisabledServices: []string{"chat"}, Source: manual}},
		},
		{name: "assign unknown service", given: []events.Data{added}, when: domain.AssignLicense{UserID: "u1", DisabledServices: []string{"nope"}, Source: manual}, wantErr: &domain.ValidationError{}},
		{name: "assign bad user id", given: []events.Data{added}, when: domain.AssignLicense{UserID: "a.b", Source: manual}, wantErr: &domain.ValidationError{}},
		{name: "assign bad source", given: []events.Data{added}, when: domain.AssignLicense{UserID: "u1", Source: events.Source{Kind: "gift"}}, wantErr: &domain.ValidationError{}},
		{name: "invariant 2: assign twice", given: []events.Data{added, assignU1}, when: domain.AssignLicense{UserID: "u1", Source: manual}, wantErr: domain.ErrAlreadyAssigned},
		{name: "invariant 1: assign when full", given: []events.Data{added, assignU1, assignU2}, when: domain.AssignLicense{UserID: "u3", Source: manual}, wantErr: domain.ErrNoLicensesAvailable},
		{
			name:  "claim",
			given: []events.Data{added, assignU1},
			when:  domain.ClaimLicense{UserID: "u9", PolicyID: "p1", App: "chat", At: now.Add(-time.Hour)},
			then:  []events.Data{events.LicenseClaimed{ProductID: "e5", UserID: "u9", PolicyID: "p1", App: "chat", DisabledServices: []string{}, ClaimedAt: now.Add(-time.Hour)}},
		},
		{name: "claim by a holder changes nothing", given: []events.Data{added, assignU1}, when: domain.ClaimLicense{UserID: "u1", PolicyID: "p1", App: "chat"}},
		{name: "invariant 1: claim when full", given: []events.Data{added, assignU1, assignU2}, when: domain.ClaimLicense{UserID: "u3", PolicyID: "p1"}, wantErr: domain.ErrNoLicensesAvailable},
		{
			name:  "unassigned seat can be claimed again",
			given: []events.Data{added, assignU1, assignU2, events.LicenseUnassigned{ProductID: "e5", UserID: "u2"}},
			when:  domain.ClaimLicense{UserID: "u3", PolicyID: "p1", At: now},
			then:  []events.Data{events.LicenseClaimed{ProductID: "e5", UserID: "u3", PolicyID: "p1", DisabledServices: []string{}, ClaimedAt: now}},
		},
		{
			name:  "unassign",
			given: []events.Data{added, assignU1},
			when:  domain.UnassignLicense{UserID: "u1"},
			then:  []events.Data{events.LicenseUnassigned{ProductID: "e5", UserID: "u1"}},
		},
		{name: "unassign a non-holder", given: []events.Data{added}, when: domain.UnassignLicense{UserID: "u1"}, wantErr: &domain.NotFoundError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.DecideProduct(given(tt.given...), tt.when, now)
			if tt.wantErr != nil {
				if !matches(err, tt.wantErr) {
					t.Fatalf("error: got %v, want %T %v", err, tt.wantErr, tt.wantErr)
				}
				if got != nil {
					t.Fatalf("events with an error: %v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.then) {
				t.Fatalf("events:\ngot  %#v\nwant %#v", got, tt.then)
			}
		})
	}
}

func matches(err, want error) bool {
	switch want.(type) {
	case *domain.ValidationError:
		var v *domain.ValidationError
		return errors.As(err, &v)
	case *domain.NotFoundError:
		var v *domain.NotFoundError
		return errors.As(err, &v)
	case *domain.OwnProcessError:
		var v *domain.OwnProcessError
		return errors.As(err, &v)
	}
	return errors.Is(err, want)
}

func TestEvolveProductCounts(t *testing.T) {
	p := given(added, assignU1, events.LicensesPurchased{ProductID: "e5", Count: 5}, assignU2,
		events.LicenseUnassigned{ProductID: "e5", UserID: "u1"}, events.LicensesRemoved{ProductID: "e5", Count: 1})
	got := p.Summary()
	want := domain.ProductSummary{ProductID: "e5", Name: "E5", Services: []string{"mail", "chat"}, Purchased: 6, Assigned: 1, Available: 5, SelfService: "blocked"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// TestDecideAssignments: given a product, when direct assignments decided
// together (group commit), then each one's license or refusal: every one
// sees the seats and users the ones before it took.
func TestDecideAssignments(t *testing.T) {
	assign := func(u string, disabled ...string) domain.AssignLicense {
		return domain.AssignLicense{UserID: domain.UserID(u), DisabledServices: disabled, Source: manual}
	}
	for _, tc := range []struct {
		name  string
		given []events.Data
		when  []domain.AssignLicense
		then  []string // "u" assigned, or the refusal's kind
	}{
		{"two seats, two users", []events.Data{added}, []domain.AssignLicense{assign("u1"), assign("u2")}, []string{"u1", "u2"}},
		{"invariant 1: one seat left, two users", []events.Data{added, assignU1}, []domain.AssignLicense{assign("u2"), assign("u3")},
			[]string{"u2", "no seats"}},
		{"invariant 2: one user twice", []events.Data{added}, []domain.AssignLicense{assign("u2"), assign("u2")},
			[]string{"u2", "already assigned"}},
		{"a holder", []events.Data{added, assignU1}, []domain.AssignLicense{assign("u1"), assign("u2")},
			[]string{"already assigned", "u2"}},
		{"a refused one takes no seat", []events.Data{added, assignU1}, []domain.AssignLicense{assign("u2", "video"), assign("u3")},
			[]string{"invalid", "u3"}},
		{"no product", nil, []domain.AssignLicense{assign("u1")}, []string{"not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, d := range domain.DecideAssignments(given(tc.given...), tc.when, now) {
				var nf *domain.NotFoundError
				var ve *domain.ValidationError
				switch {
				case d.Err == nil:
					got = append(got, d.Assigned.UserID)
					if d.Assigned.ProductID != "e5" || d.Assigned.Source != manual {
						t.Errorf("got %+v, want a manual license of e5", d.Assigned)
					}
				case errors.Is(d.Err, domain.ErrNoLicensesAvailable):
					got = append(got, "no seats")
				case errors.Is(d.Err, domain.ErrAlreadyAssigned):
					got = append(got, "already assigned")
				case errors.As(d.Err, &ve):
					got = append(got, "invalid")
				case errors.As(d.Err, &nf):
					got = append(got, "not found")
				default:
					got = append(got, d.Err.Error())
				}
			}
			if !reflect.DeepEqual(got, tc.then) {
				t.Fatalf("got %q, want %q", got, tc.then)
			}
		})
	}
}

// TestProductHolders: what a product's state says of its holders and
// claimants after each kind of event.
func TestProductHolders(t *testing.T) {
	claimedAt := now.Add(-time.Hour)
	claim := func(u, policy string) events.LicenseClaimed {
		return events.LicenseClaimed{ProductID: "e5", UserID: u, PolicyID: policy, App: "teams", DisabledServices: []string{}, SigninID: "s", ClaimedAt: claimedAt}
	}
	unassign := func(u string) events.LicenseUnassigned { return events.LicenseUnassigned{ProductID: "e5", UserID: u} }
	policySource := events.Source{Kind: events.SourcePolicy, Ref: "p1"}
	warned := events.LicenseReclaimWarned{ProductID: "e5", UserID: "u1", PolicyID: "p1", LastSeen: claimedAt, ReclaimAt: now}

	p := given(added, claim("u1", "p1"), events.LicenseAssigned{ProductID: "e5", UserID: "u2", DisabledServices: []string{}, Source: policySource}, warned)
	if h, ok := p.Holding("u1"); !ok || h != (domain.Holding{Source: policySource, PolicyID: "p1", AssignedAt: claimedAt, Warned: h.Warned}) ||
		h.Warned == nil || *h.Warned != (domain.ReclaimWarning{LastSeen: claimedAt, ReclaimAt: now}) {
		t.Fatalf("u1 holds %+v %v, want the claim under p1 with its warning", h, ok)
	}
	// An assignment naming a policy as its source was not claimed.
	if h, ok := p.Holding("u2"); !ok || h != (domain.Holding{Source: policySource, AssignedAt: now}) {
		t.Fatalf("u2 holds %+v %v, want the assignment", h, ok)
	}
	if p.Assigned() != 2 || !p.ClaimedUnder("p1", "u1") || p.ClaimedUnder("p1", "u2") || p.Claimants("p1") != 1 {
		t.Fatalf("assigned %d, claimants of p1 %d", p.Assigned(), p.Claimants("p1"))
	}

	// Taken back, u1 stays a claimant; claimed again, the warning is gone.
	p = given(added, claim("u1", "p1"), warned, unassign("u1"))
	if _, ok := p.Holding("u1"); ok || p.Holds("u1") || !p.ClaimedUnder("p1", "u1") || p.Claimants("p1") != 1 || p.Assigned() != 0 {
		t.Fatalf("after the unassignment: holds %v, claimed under p1 %v", p.Holds("u1"), p.ClaimedUnder("p1", "u1"))
	}
	domain.EvolveProduct(p, events.Envelope{Data: claim("u1", "p1")})
	if h, _ := p.Holding("u1"); h.Warned != nil || p.Claimants("p1") != 1 {
		t.Fatalf("claimed again: warned %v, claimants %d", h.Warned, p.Claimants("p1"))
	}

	// Claims under more policies than a user has bits for.
	var evs []events.Data
	for i := range 70 {
		evs = append(evs, claim("u1", fmt.Sprint("q", i)), unassign("u1"))
	}
	p = given(append([]events.Data{added}, append(evs, claim("u2", "q69"))...)...)
	for i := range 70 {
		if q := domain.PolicyID(fmt.Sprint("q", i)); !p.ClaimedUnder(q, "u1") || p.ClaimedUnder(q, "u3") {
			t.Fatalf("claimed under %s: u1 %v, u3 %v", q, p.ClaimedUnder(q, "u1"), p.ClaimedUnder(q, "u3"))
		}
	}
	if p.Claimants("q69") != 2 || p.Claimants("q0") != 1 || p.Claimants("q70") != 0 || p.Assigned() != 1 {
		t.Fatalf("claimants q69 %d q0 %d q70 %d, assigned %d", p.Claimants("q69"), p.Claimants("q0"), p.Claimants("q70"), p.Assigned())
	}
	n := 0
	for u, h := range p.Holdings() {
		if u != "u2" || h.PolicyID != "q69" {
			t.Fatalf("holdings yield %s %+v", u, h)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("holdings yield %d, want 1", n)
	}
}
