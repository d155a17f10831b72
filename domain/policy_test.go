package domain_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

func pp(id string, disabled ...string) events.PolicyProduct {
	if disabled == nil {
		disabled = []string{}
	}
	return events.PolicyProduct{ProductID: id, DisabledServices: disabled}
}

var (
	orgAgg = events.Aggregate{Kind: events.KindOrg, ID: domain.OrgID}
	polAgg = events.Aggregate{Kind: events.KindPolicy, ID: "p1"}
)

func TestDecidePolicy(t *testing.T) {
	e5 := given(added) // services mail, chat
	// e3 holds two claims under p1 (one today, one yesterday) and one
	// under p1 since taken back.
	claim := func(u string, at time.Time) events.LicenseClaimed {
		return events.LicenseClaimed{ProductID: "e3", UserID: u, PolicyID: "p1", App: "teams", DisabledServices: []string{}, SigninID: "s-" + u, ClaimedAt: at}
	}
	e3 := fold("e3", events.ProductAdded{ProductID: "e3", Name: "E3", Services: []string{"mail"}, Licenses: 3, SelfService: events.SelfServiceBlocked},
		claim("a", now), claim("b", now.AddDate(0, 0, -1)), claim("c", now.AddDate(0, 0, -2)), events.LicenseUnassigned{ProductID: "e3", UserID: "c"})
	capped := &domain.Policy{ID: "p1", Name: "Teams", App: "teams", Products: []events.PolicyProduct{pp("e3")}, Enabled: true}
	domain.EvolvePolicy(capped, events.Envelope{Data: events.PolicyLimitsChanged{PolicyID: "p1", DailyCap: ip(5)}})
	products := map[domain.ProductID]*domain.Product{"e5": e5, "e3": e3}
	created := &domain.Policy{ID: "p1", Name: "Teams", App: "teams", Products: []events.PolicyProduct{pp("e5")}, Enabled: true}
	off := &domain.Policy{ID: "p1", Name: "Teams", App: "teams", Products: []events.PolicyProduct{pp("e5")}}
	bound := &domain.Org{AppPolicies: map[string]domain.PolicyID{"teams": "p1"}}
	taken := &domain.Org{AppPolicies: map[string]domain.PolicyID{"teams": "p0"}}
	empty := &domain.Org{}
	tests := []struct {
		name    string
		org     *domain.Org
		policy  *domain.Policy
		when    domain.PolicyCommand
		then    []domain.Change
		wantErr error
	}{
		{
			name: "create binds the app", org: empty, policy: &domain.Policy{ID: "p1"},
			when: domain.CreatePolicy{Name: "Teams", App: "teams", Products: []events.PolicyProduct{pp("e5", "chat"), {ProductID: "e3"}}},
			then: []domain.Change{
				{Agg: polAgg, Data: events.PolicyCreated{PolicyID: "p1", Name: "Teams", App: "teams", Products: []events.PolicyProduct{pp("e5", "chat"), pp("e3")}, Enabled: true}},
				{Agg: orgAgg, Data: events.AppPolicyBound{App: "teams", PolicyID: "p1"}},
			},
		},
		{
			name: "create disabled leaves the app free", org: taken, policy: &domain.Policy{ID: "p1"},
			when: domain.CreatePolicy{Name: "Teams", App: "teams", Products: []events.PolicyProduct{pp("e5")}, Disabled: true},
			then: []domain.Change{{Agg: polAgg, Data: events.PolicyCreated{PolicyID: "p1", Name: "Teams", App: "teams", Products: []events.PolicyProduct{pp("e5")}}}},
		},
		{name: "create for a taken app", org: taken, policy: &domain.Policy{ID: "p1"},
			when: domain.CreatePolicy{Name: "T", App: "teams", Products: []events.PolicyProduct{pp("e5")}}, wantErr: domain.ErrAppHasPolicy},
		{name: "create twice", org: bound, policy: created,
			when: domain.CreatePolicy{Name: "T", App: "teams", Products: []events.PolicyProduct{pp("e5")}}, wantErr: domain.ErrAlreadyExists},
		{name: "create without products", org: empty, policy: &domain.Policy{ID: "p1"},
			when: domain.CreatePolicy{Name: "T", App: "teams"}, wantErr: &domain.ValidationError{}},
		{name: "create with six products", org: empty, policy: &domain.Policy{ID: "p1"},
			when: domain.CreatePolicy{Name: "T", App: "teams", Products: []events.PolicyProduct{pp("e5"), pp("e3"), pp("a"), pp("b"), pp("c"), pp("d")}}, wantErr: &domain.ValidationError{}},
		{name: "create with a product twice", org: empty, policy: &domain.Policy{ID: "p1"},
			when: domain.CreatePolicy{Name: "T", App: "teams", Products: []events.PolicyProduct{pp("e5"), pp("e5")}}, wantErr: &domain.ValidationError{}},
		{name: "create with a missing product", org: empty, policy: &domain.Policy{ID: "p1"},
			when: domain.CreatePolicy{Name: "T", App: "teams", Products: []events.PolicyProduct{pp("nope")}}, wantErr: &domain.ValidationError{}},
		{name: "create with a foreign service", org: empty, policy: &domain.Policy{ID: "p1"},
			when: domain.CreatePolicy{Name: "T", App: "teams", Products: []events.PolicyProduct{pp("e3", "chat")}}, wantErr: &domain.ValidationError{}},
		{name: "create without name", org: empty, policy: &domain.Policy{ID: "p1"},
			when: domain.CreatePolicy{App: "teams", Products: []events.PolicyProduct{pp("e5")}}, wantErr: &domain.ValidationError{}},
		{name: "create without app", org: empty, policy: &domain.Policy{ID: "p1"},
			when: domain.CreatePolicy{Name: "T", Products: []events.PolicyProduct{pp("e5")}}, wantErr: &domain.ValidationError{}},
		{name: "rename", org: bound, policy: created, when: domain.RenamePolicy{Name: "Chat"},
			then: []domain.Change{{Agg: polAgg, Data: events.PolicyRenamed{PolicyID: "p1", Name: "Chat"}}}},
		{name: "rename to the same name", org: bound, policy: created, when: domain.RenamePolicy{Name: "Teams"}},
		{name: "rename a missing policy", org: empty, policy: &domain.Policy{ID: "p1"}, when: domain.RenamePolicy{Name: "x"}, wantErr: &domain.NotFoundError{}},
		{name: "turn off unbinds", org: bound, policy: created, when: domain.SetPolicyEnabled{Enabled: false},
			then: []domain.Change{
				{Agg: polAgg, Data: events.PolicyStatusChanged{PolicyID: "p1", Enabled: false}},
				{Agg: orgAgg, Data: events.AppPolicyUnbound{App: "teams", PolicyID: "p1"}},
			}},
		{name: "turn on binds", org: empty, policy: off, when: domain.SetPolicyEnabled{Enabled: true},
			then: []domain.Change{
				{Agg: polAgg, Data: events.PolicyStatusChanged{PolicyID: "p1", Enabled: true}},
				{Agg: orgAgg, Data: events.AppPolicyBound{App: "teams", PolicyID: "p1"}},
			}},
		{name: "turn on while another serves the app", org: taken, policy: off, when: domain.SetPolicyEnabled{Enabled: true}, wantErr: domain.ErrAppHasPolicy},
		{name: "turn on when on", org: bound, policy: created, when: domain.SetPolicyEnabled{Enabled: true}},
		{name: "reorder and add", org: bound, policy: created, when: domain.SetPolicyProducts{Products: []events.PolicyProduct{pp("e3"), pp("e5", "mail")}},
			then: []domain.Change{{Agg: polAgg, Data: events.PolicyProductsChanged{PolicyID: "p1", Products: []events.PolicyProduct{pp("e3"), pp("e5", "mail")}}}}},
		{name: "same list", org: bound, policy: created, when: domain.SetPolicyProducts{Products: []events.PolicyProduct{pp("e5")}}},
		{name: "empty list", org: bound, policy: created, when: domain.SetPolicyProducts{Products: []events.PolicyProduct{}}, wantErr: &domain.ValidationError{}},
		{name: "create with caps and reclaim", org: empty, policy: &domain.Policy{ID: "p1"},
			when: domain.CreatePolicy{Name: "Teams", App: "teams", Products: []events.PolicyProduct{pp("e5")}, Disabled: true,
				Limits: domain.PolicyLimits{DailyCap: ip(10), ReclaimAfterDays: ip(30)}},
			then: []domain.Change{
				{Agg: polAgg, Data: events.PolicyCreated{PolicyID: "p1", Name: "Teams", App: "teams", Products: []events.PolicyProduct{pp("e5")}}},
				{Agg: polAgg, Data: events.PolicyLimitsChanged{PolicyID: "p1", DailyCap: ip(10), ReclaimAfterDays: ip(30)}},
			}},
		{name: "turning a cap on counts the claims the products recorded", org: bound, policy: created,
			when: domain.SetPolicyLimits{TotalCap: set(ip(100))},
			then: []domain.Change{
				{Agg: polAgg, Data: events.PolicyLimitsChanged{PolicyID: "p1", TotalCap: ip(100)}},
				{Agg: polAgg, Data: events.PolicyClaimsCounted{PolicyID: "p1", Day: "2026-11-23", Today: 1, Total: 3}},
			}},
		{name: "changing a cap keeps counting", org: bound, policy: capped,
			when: domain.SetPolicyLimits{DailyCap: set(ip(6)), ReclaimAfterDays: set(ip(10)), ReclaimWarnDays: set(ip(3))},
			then: []domain.Change{{Agg: polAgg, Data: events.PolicyLimitsChanged{PolicyID: "p1", DailyCap: ip(6), ReclaimAfterDays: ip(10), ReclaimWarnDays: ip(3)}}}},
		{name: "a cap turned off", org: bound, policy: capped, when: domain.SetPolicyLimits{DailyCap: set(nil)},
			then: []domain.Change{{Agg: polAgg, Data: events.PolicyLimitsChanged{PolicyID: "p1"}}}},
		{name: "limits unchanged", org: bound, policy: capped, when: domain.SetPolicyLimits{DailyCap: set(ip(5)), TotalCap: set(nil)}},
		{name: "a cap of zero", org: bound, policy: created, when: domain.SetPolicyLimits{DailyCap: set(ip(0))}, wantErr: &domain.ValidationError{}},
		{name: "a warning without reclaiming", org: bound, policy: created, when: domain.SetPolicyLimits{ReclaimWarnDays: set(ip(3))}, wantErr: &domain.ValidationError{}},
		{name: "a warning not before reclaiming", org: bound, policy: created,
			when: domain.SetPolicyLimits{ReclaimAfterDays: set(ip(3)), ReclaimWarnDays: set(ip(3))}, wantErr: &domain.ValidationError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.DecidePolicy(domain.PolicyView{Org: tt.org, Policy: tt.policy, Products: products, Now: now}, tt.when)
			if tt.wantErr != nil {
				if !matches(err, tt.wantErr) {
					t.Fatalf("error: got %v, want %T %v", err, tt.wantErr, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.then) {
				t.Fatalf("changes:\ngot  %+v\nwant %+v", got, tt.then)
			}
		})
	}
}

// TestPolicyQueueStaysCheap: a policy with a long queue answers whether a
// user waits from an index, lists only the head of its queue with the
// total, and grants in order without rescanning.
func TestPolicyQueueStaysCheap(t *testing.T) {
	p := &domain.Policy{}
	domain.EvolvePolicy(p, events.Envelope{Data: events.PolicyCreated{PolicyID: "p1", Name: "Teams", App: "teams", Products: []events.PolicyProduct{{ProductID: "e5"}}, Enabled: true}})
	const n = 5000
	for i := range n {
		domain.EvolvePolicy(p, events.Envelope{Data: events.UserQueued{PolicyID: "p1", UserID: fmt.Sprintf("u%d", i), SigninID: fmt.Sprintf("s%d", i)}})
	}
	domain.EvolvePolicy(p, events.Envelope{Data: events.UserQueued{PolicyID: "p1", UserID: "u7", SigninID: "again"}})
	if !p.Queued("u4999") || p.Queued("nobody") || len(p.Queue) != n {
		t.Fatalf("queued: u4999 %v, nobody %v, length %d", p.Queued("u4999"), p.Queued("nobody"), len(p.Queue))
	}
	sum := p.Summary()
	if len(sum.Queue) != domain.QueueHeadLen || sum.Queued != n || sum.Queue[0].UserID != "u0" {
		t.Fatalf("summary: %d listed, %d queued, head %v; want %d, %d, u0", len(sum.Queue), sum.Queued, sum.Queue[0].UserID, domain.QueueHeadLen, n)
	}
	domain.EvolvePolicy(p, events.Envelope{Data: events.QueuedUserGranted{PolicyID: "p1", UserID: "u0"}})
	domain.EvolvePolicy(p, events.Envelope{Data: events.QueuedUserDropped{PolicyID: "p1", UserID: "u10"}})
	if p.Queued("u0") || p.Queued("u10") || len(p.Queue) != n-2 || p.Queue[0].UserID != "u1" {
		t.Fatalf("after a grant and a drop: head %v, length %d", p.Queue[0].UserID, len(p.Queue))
	}
}

func ip(n int) *int { return &n }

func set(v *int) domain.OptionalInt { return domain.OptionalInt{Set: true, Value: v} }
