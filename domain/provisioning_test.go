package domain_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// provisioningState is a plain view for the provisioning deciders: user u1,
// products e5 (u1 holds a license, from group g1) and e3 (u1 holds none),
// and groups g1 (u1 and u2) and g2 (u2 only).
func provisioningState(user ...events.Data) domain.StateOf {
	u := &domain.User{ID: "u1"}
	for _, d := range user {
		domain.EvolveUser(u, events.Envelope{Data: d})
	}
	e5 := &domain.Product{ID: "e5"}
	domain.EvolveProduct(e5, events.Envelope{Data: events.ProductAdded{ProductID: "e5", Name: "E5", Licenses: 2, SelfService: events.SelfServiceBlocked}})
	domain.EvolveProduct(e5, events.Envelope{Data: events.LicenseAssigned{ProductID: "e5", UserID: "u1", Source: events.Source{Kind: events.SourceGroup, Ref: "g1"}}})
	e3 := &domain.Product{ID: "e3"}
	domain.EvolveProduct(e3, events.Envelope{Data: events.ProductAdded{ProductID: "e3", Name: "E3", Licenses: 2, SelfService: events.SelfServiceBlocked}})
	g1 := &domain.Group{ID: "g1"}
	domain.EvolveGroup(g1, events.Envelope{Data: events.GroupChanged{GroupID: "g1", Name: "Sales", Members: []string{"u1", "u2"}, Products: []events.PolicyProduct{{ProductID: "e5", DisabledServices: []string{}}}}})
	g2 := &domain.Group{ID: "g2"}
	domain.EvolveGroup(g2, events.Envelope{Data: events.GroupChanged{GroupID: "g2", Name: "Ops", Members: []string{"u2"}, Products: []events.PolicyProduct{}}})
	return func(a events.Aggregate) any {
		switch a {
		case events.Aggregate{Kind: events.KindUser, ID: "u1"}:
			return u
		case events.Aggregate{Kind: events.KindProduct, ID: "e5"}:
			return e5
		case events.Aggregate{Kind: events.KindProduct, ID: "e3"}:
			return e3
		case events.Aggregate{Kind: events.KindGroup, ID: "g1"}:
			return g1
		case events.Aggregate{Kind: events.KindGroup, ID: "g2"}:
			return g2
		}
		panic("not in the view: " + string(a.Kind) + "/" + a.ID)
	}
}

var (
	u1Agg = events.Aggregate{Kind: events.KindUser, ID: "u1"}
	e5Agg = events.Aggregate{Kind: events.KindProduct, ID: "e5"}
	g1Agg = events.Aggregate{Kind: events.KindGroup, ID: "g1"}

	registered  = events.UserRegistered{UserID: "u1", Email: "ann@example.com", DisplayName: "Ann", Roles: []string{}}
	provisioned = events.UserProvisioned{UserID: "u1", UserName: "ann@example.com", ExternalID: "ext-1", Active: true}
	deactivated = events.UserProvisioned{UserID: "u1", UserName: "ann@example.com", ExternalID: "ext-1", Active: false}
)

// TestDecideProvision: given a user (and what it holds), when an identity
// provider's view of it, then the directory events, and on deactivation
// every held license released with the reason.
func TestDecideProvision(t *testing.T) {
	ann := func(active bool) domain.ProvisionUser {
		return domain.ProvisionUser{Email: "ann@example.com", DisplayName: "Ann", UserName: "ann@example.com", ExternalID: "ext-1", Active: active,
			Holds: []domain.ProductID{"e5", "e3", "e5"}}
	}
	released := domain.Emit{Agg: e5Agg, Events: []events.Data{events.LicenseUnassigned{ProductID: "e5", UserID: "u1", Reason: events.UnassignedUserDeactivated}}}
	for _, tc := range []struct {
		name    string
		given   []events.Data
		when    domain.ProvisionUser
		want    []domain.Emit
		wantErr error
	}{
		{"new user", nil, ann(true), []domain.Emit{{Agg: u1Agg, Events: []events.Data{registered, provisioned}}}, nil},
		{"same again changes nothing", []events.Data{registered, provisioned}, ann(true), nil, nil},
		{"a user registered by an admin gets its provider attributes", []events.Data{registered}, ann(true), []domain.Emit{{Agg: u1Agg, Events: []events.Data{provisioned}}}, nil},
		{"deactivation releases held licenses only", []events.Data{registered, provisioned}, ann(false),
			[]domain.Emit{{Agg: u1Agg, Events: []events.Data{deactivated}}, released}, nil},
		{"deactivated again releases what is still held", []events.Data{registered, deactivated}, ann(false), []domain.Emit{released}, nil},
		{"reactivation", []events.Data{registered, deactivated}, ann(true), []domain.Emit{{Agg: u1Agg, Events: []events.Data{provisioned}}}, nil},
		{"a deleted user is not found", []events.Data{registered, events.UserDeleted{UserID: "u1"}}, ann(true), nil, &domain.NotFoundError{}},
		{"no user name", nil, domain.ProvisionUser{Email: "ann@example.com", DisplayName: "Ann", Active: true}, nil, &domain.ValidationError{}},
		{"not an email", nil, domain.ProvisionUser{Email: "ann", DisplayName: "Ann", UserName: "ann", Active: true}, nil, &domain.ValidationError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.DecideProvision(provisioningState(tc.given...), "u1", tc.when)
			checkKind(t, err, tc.wantErr)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("events: got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestDecideDeleteUser: given a user in groups and holding licenses, when
// the provider deletes it, then licenses released with the reason, the user
// out of its groups (their products kept), and UserDeleted.
func TestDecideDeleteUser(t *testing.T) {
	all := domain.DeleteUser{Holds: []domain.ProductID{"e5", "e3"}, Groups: []domain.GroupID{"g1", "g2"}}
	for _, tc := range []struct {
		name    string
		given   []events.Data
		when    domain.DeleteUser
		want    []domain.Emit
		wantErr error
	}{
		{"delete", []events.Data{registered, provisioned}, all, []domain.Emit{
			{Agg: e5Agg, Events: []events.Data{events.LicenseUnassigned{ProductID: "e5", UserID: "u1", Reason: events.UnassignedUserDeleted}}},
			{Agg: g1Agg, Events: []events.Data{events.GroupChanged{GroupID: "g1", Name: "Sales", Members: []string{"u2"}, Products: []events.PolicyProduct{{ProductID: "e5", DisabledServices: []string{}}}}}},
			{Agg: u1Agg, Events: []events.Data{events.UserDeleted{UserID: "u1"}}},
		}, nil},
		{"unknown user", nil, all, nil, &domain.NotFoundError{}},
		{"deleted twice", []events.Data{registered, events.UserDeleted{UserID: "u1"}}, all, nil, &domain.NotFoundError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.DecideDeleteUser(provisioningState(tc.given...), "u1", tc.when)
			checkKind(t, err, tc.wantErr)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("events: got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestChangeMembers: the group-membership PATCH forms applied to a group.
func TestChangeMembers(t *testing.T) {
	g := &domain.Group{ID: "g1"}
	domain.EvolveGroup(g, events.Envelope{Data: events.GroupChanged{GroupID: "g1", Name: "Sales", Members: []string{"u1", "u2"}, Products: []events.PolicyProduct{}}})
	name := "Sales EMEA"
	for _, tc := range []struct {
		name  string
		when  domain.ChangeMembers
		want  []domain.UserID
		name2 string
	}{
		{"add one, one already in", domain.ChangeMembers{Add: []domain.UserID{"u3", "u1"}}, []domain.UserID{"u1", "u2", "u3"}, "Sales"},
		{"remove one, one absent", domain.ChangeMembers{Remove: []domain.UserID{"u1", "u9"}}, []domain.UserID{"u2"}, "Sales"},
		{"replace then add", domain.ChangeMembers{Replace: &[]domain.UserID{"u4", "u4"}, Add: []domain.UserID{"u5"}}, []domain.UserID{"u4", "u5"}, "Sales"},
		{"remove all, rename", domain.ChangeMembers{Name: &name, Replace: &[]domain.UserID{}}, []domain.UserID{}, "Sales EMEA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.when.Apply(g)
			if !reflect.DeepEqual(got.Members, tc.want) || got.Name != tc.name2 {
				t.Fatalf("got %q %v, want %q %v", got.Name, got.Members, tc.name2, tc.want)
			}
		})
	}
}

// checkKind fails unless err is of want's kind (nil: no error).
func checkKind(t *testing.T, err, want error) {
	t.Helper()
	var nf *domain.NotFoundError
	var ve *domain.ValidationError
	switch want.(type) {
	case nil:
		if err != nil {
			t.Fatalf("error: got %v, want none", err)
		}
	case *domain.NotFoundError:
		if !errors.As(err, &nf) {
			t.Fatalf("error: got %v, want not found", err)
		}
	case *domain.ValidationError:
		if !errors.As(err, &ve) {
			t.Fatalf("error: got %v, want a validation error", err)
		}
	}
}

// TestDecideDeleteGroup: deleting a licensed group takes back its licenses
// and records GroupDeleted; a deleted group is not found again.
func TestDecideDeleteGroup(t *testing.T) {
	state := provisioningState(registered)
	got, err := domain.DecideDeleteGroup(state, "g1")
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Emit{
		{Agg: g1Agg, Events: []events.Data{events.GroupChanged{GroupID: "g1", Name: "Sales", Members: []string{}, Products: []events.PolicyProduct{}}}},
		{Agg: e5Agg, Events: []events.Data{events.LicenseUnassigned{ProductID: "e5", UserID: "u1"}}},
		{Agg: g1Agg, Events: []events.Data{events.GroupDeleted{GroupID: "g1"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	g := state(g1Agg).(*domain.Group)
	for _, e := range got {
		for _, d := range e.Events {
			if e.Agg == g1Agg {
				domain.EvolveGroup(g, events.Envelope{Data: d})
			}
		}
	}
	if _, err := domain.DecideDeleteGroup(state, "g1"); err == nil {
		t.Fatal("deleted twice: got no error, want not found")
	}
}

// TestDecideProvisionReactivation: a deactivated member of licensed groups
// gets the groups' licenses back when reactivated, where seats are free,
// once per product; and a group change never licenses a deactivated member.
func TestDecideProvisionReactivation(t *testing.T) {
	u := &domain.User{ID: "u1"}
	for _, d := range []events.Data{registered, deactivated} {
		domain.EvolveUser(u, events.Envelope{Data: d})
	}
	product := func(id string, seats int) *domain.Product {
		p := &domain.Product{ID: domain.ProductID(id)}
		domain.EvolveProduct(p, events.Envelope{Data: events.ProductAdded{ProductID: id, Name: id, Services: []string{"chat"}, Licenses: seats, SelfService: events.SelfServiceBlocked}})
		return p
	}
	group := func(id string, products ...string) *domain.Group {
		g := &domain.Group{ID: domain.GroupID(id)}
		var ps []events.PolicyProduct
		for _, p := range products {
			ps = append(ps, events.PolicyProduct{ProductID: p, DisabledServices: []string{"chat"}})
		}
		domain.EvolveGroup(g, events.Envelope{Data: events.GroupChanged{GroupID: id, Name: id, Members: []string{"u1"}, Products: ps}})
		return g
	}
	states := map[events.Aggregate]any{
		u1Agg:                                u,
		{Kind: events.KindProduct, ID: "e5"}: product("e5", 1),
		{Kind: events.KindProduct, ID: "e3"}: product("e3", 0),
		{Kind: events.KindGroup, ID: "g1"}:   group("g1", "e5", "e3"),
		{Kind: events.KindGroup, ID: "g2"}:   group("g2", "e5"),
	}
	state := func(a events.Aggregate) any { return states[a] }
	got, err := domain.DecideProvision(state, "u1", domain.ProvisionUser{Email: "ann@example.com", DisplayName: "Ann", UserName: "ann@example.com",
		ExternalID: "ext-1", Active: true, Groups: []domain.GroupID{"g1", "g2"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Emit{
		{Agg: u1Agg, Events: []events.Data{provisioned}},
		{Agg: e5Agg, Events: []events.Data{events.LicenseAssigned{ProductID: "e5", UserID: "u1", DisabledServices: []string{"chat"}, Source: events.Source{Kind: events.SourceGroup, Ref: "g1"}}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reactivation: got %+v, want %+v", got, want)
	}

	// The group changes (a product added) while u1 is deactivated: u2
	// joins and is licensed, u1 is not.
	states[events.Aggregate{Kind: events.KindProduct, ID: "e5"}] = product("e5", 5)
	changes, err := domain.DecideGroup(state, "g1", domain.SetGroup{Name: "g1", Members: []domain.UserID{"u1", "u2"},
		Products: []events.PolicyProduct{{ProductID: "e5", DisabledServices: []string{}}}, Inactive: []domain.UserID{"u1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		for _, d := range c.Events {
			if a, ok := d.(events.LicenseAssigned); ok && a.UserID == "u1" {
				t.Fatalf("group change licensed the deactivated member: %+v", changes)
			}
		}
		if c.Agg == e5Agg && len(c.Events) != 1 {
			t.Fatalf("group change on %v: got %+v, want u2's license", c.Agg, c.Events)
		}
	}
}

// TestDecideRequestDecisionSkipsDeactivatedMembers: fulfilling a request
// through a licensed group licenses the approved user, not a deactivated
// member of the group.
func TestDecideRequestDecisionSkipsDeactivatedMembers(t *testing.T) {
	w := givenDecision(5, false, "e5")
	g := &domain.Group{}
	domain.EvolveGroup(g, events.Envelope{Data: events.GroupChanged{GroupID: "g1", Name: "Sales", Members: []string{"u9"}, Products: []events.PolicyProduct{{ProductID: "e5", DisabledServices: []string{}}}}})
	w[events.Aggregate{Kind: events.KindGroup, ID: "g1"}] = g
	u9 := &domain.User{ID: "u9"}
	domain.EvolveUser(u9, events.Envelope{Data: events.UserProvisioned{UserID: "u9", UserName: "u9", Active: false}})
	w[events.Aggregate{Kind: events.KindUser, ID: "u9"}] = u9
	got, err := domain.DecideRequestDecision(w.state, "r1", domain.Decide{Approve: []domain.UserID{"u1"}, Reject: []domain.UserID{"u2", "u3"}, GroupID: "g1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"group/g1 GroupChanged [u9 u1]",
		"product/e5 LicenseAssigned u1[]",
		"request/r1 RequestApproved e5[u1] [u2 u3]g1",
	}
	if s := summary(got); !reflect.DeepEqual(s, want) {
		t.Fatalf("got %q, want %q", s, want)
	}
}

// TestDecideGroupMembers: given licensed group g1 (u1, licensed through it,
// and u2, whom the identity provider deactivated), when its members are set or changed, then
// the group's change and licenses for the active members who join only;
// a group that does not exist cannot be changed.
func TestDecideGroupMembers(t *testing.T) {
	world := func() decisionWorld {
		w := givenDecision(5, false, "e5")
		g := &domain.Group{ID: "g1"}
		domain.EvolveGroup(g, events.Envelope{Data: events.GroupChanged{GroupID: "g1", Name: "Sales", Members: []string{"u1", "u2"},
			Products: []events.PolicyProduct{{ProductID: "e5", DisabledServices: []string{}}}}})
		w[events.Aggregate{Kind: events.KindGroup, ID: "g1"}] = g
		domain.EvolveProduct(w[e5Agg].(*domain.Product), events.Envelope{Data: events.LicenseAssigned{ProductID: "e5", UserID: "u1",
			DisabledServices: []string{}, Source: events.Source{Kind: events.SourceGroup, Ref: "g1"}}})
		u2 := &domain.User{ID: "u2"}
		domain.EvolveUser(u2, events.Envelope{Data: events.UserProvisioned{UserID: "u2", UserName: "u2", Active: false}})
		w[events.Aggregate{Kind: events.KindUser, ID: "u2"}] = u2
		return w
	}
	products := []events.PolicyProduct{{ProductID: "e5", DisabledServices: []string{}}}
	for _, tc := range []struct {
		name    string
		decide  func(domain.StateOf) ([]domain.Emit, error)
		then    []string
		wantErr error
	}{
		{"set: the deactivated member gets no license", func(s domain.StateOf) ([]domain.Emit, error) {
			return domain.DecideSetGroup(s, "g1", domain.SetGroup{Name: "Sales", Members: []domain.UserID{"u1", "u2", "u3"}, Products: products})
		}, []string{"group/g1 GroupChanged [u1 u2 u3]", "product/e5 LicenseAssigned u3[]"}, nil},
		{"change: add one, one deactivated", func(s domain.StateOf) ([]domain.Emit, error) {
			return domain.DecideChangeMembers(s, "g1", domain.ChangeMembers{Add: []domain.UserID{"u3"}})
		}, []string{"group/g1 GroupChanged [u1 u2 u3]", "product/e5 LicenseAssigned u3[]"}, nil},
		{"change: rename only", func(s domain.StateOf) ([]domain.Emit, error) {
			name := "Sales EMEA"
			return domain.DecideChangeMembers(s, "g1", domain.ChangeMembers{Name: &name})
		}, []string{"group/g1 GroupChanged [u1 u2]"}, nil},
		{"change: an empty name", func(s domain.StateOf) ([]domain.Emit, error) {
			name := ""
			return domain.DecideChangeMembers(s, "g1", domain.ChangeMembers{Name: &name})
		}, nil, &domain.ValidationError{}},
		{"change: no such group", func(s domain.StateOf) ([]domain.Emit, error) {
			return domain.DecideChangeMembers(s, "g9", domain.ChangeMembers{Add: []domain.UserID{"u3"}})
		}, nil, &domain.NotFoundError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.decide(world().state)
			checkKind(t, err, tc.wantErr)
			if s := summary(got); !reflect.DeepEqual(s, tc.then) {
				t.Fatalf("got %q, want %q", s, tc.then)
			}
		})
	}
}
