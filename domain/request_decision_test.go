package domain_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// decisionWorld is the given of a request decision: the states the decider
// reads, built from events with the aggregates' own evolve functions.
type decisionWorld map[events.Aggregate]any

func (w decisionWorld) state(agg events.Aggregate) any {
	if s, ok := w[agg]; ok {
		return s
	}
	switch agg.Kind { // never written: the empty state
	case events.KindProduct:
		return &domain.Product{}
	case events.KindGroup:
		return &domain.Group{}
	default:
		return &domain.Request{}
	}
}

func givenDecision(seats int, decided bool, groupProducts ...string) decisionWorld {
	w := decisionWorld{}
	r := &domain.Request{}
	domain.EvolveRequest(r, events.Envelope{Data: events.RequestSubmitted{RequestID: "r1", ProductID: "e5", Requester: "u1", Users: []string{"u1", "u2", "u3"}}})
	if decided {
		domain.EvolveRequest(r, events.Envelope{Data: events.RequestDenied{RequestID: "r1", Rejected: []string{"u1", "u2", "u3"}}})
	}
	w[events.Aggregate{Kind: events.KindRequest, ID: "r1"}] = r
	for _, id := range []string{"e5", "e3"} {
		p := &domain.Product{}
		domain.EvolveProduct(p, events.Envelope{Data: events.ProductAdded{ProductID: id, Name: id, Services: []string{"mail", "chat"}, Licenses: seats, SelfService: "blocked"}})
		w[events.Aggregate{Kind: events.KindProduct, ID: id}] = p
	}
	g := &domain.Group{}
	var ps []events.PolicyProduct
	for _, p := range groupProducts {
		ps = append(ps, events.PolicyProduct{ProductID: p})
	}
	domain.EvolveGroup(g, events.Envelope{Data: events.GroupChanged{GroupID: "g1", Name: "Sales", Members: []string{}, Products: ps}})
	w[events.Aggregate{Kind: events.KindGroup, ID: "g1"}] = g
	return w
}

// summary writes emits as "kind/id Type user..." lines, one per event.
func summary(emits []domain.Emit) []string {
	var out []string
	for _, e := range emits {
		for _, d := range e.Events {
			line := string(e.Agg.Kind) + "/" + e.Agg.ID + " " + d.EventType()
			switch v := d.(type) {
			case events.LicenseAssigned:
				line += " " + v.UserID + fmt.Sprint(v.DisabledServices)
			case events.RequestApproved:
				line += fmt.Sprint(" ", v.ProductID, v.Approved, v.Rejected, v.GroupID)
			case events.RequestDenied:
				line += fmt.Sprint(" ", v.Rejected)
			case events.GroupChanged:
				line += fmt.Sprint(" ", v.Members)
			}
			out = append(out, line)
		}
	}
	return out
}

// TestDecideRequestDecision: given a request and the states it reads, when
// an admin decides, then the events of every aggregate, or an error and no
// events at all.
func TestDecideRequestDecision(t *testing.T) {
	for _, tc := range []struct {
		name    string
		given   decisionWorld
		when    domain.Decide
		want    []string
		wantErr error
	}{
		{"approve two from another product with a service off, reject one", givenDecision(5, false),
			domain.Decide{Approve: []domain.UserID{"u1", "u2"}, Reject: []domain.UserID{"u3"}, ProductID: "e3", DisabledServices: []string{"chat"}, Message: "welcome"},
			[]string{"product/e3 LicenseAssigned u1[chat]", "product/e3 LicenseAssigned u2[chat]", "request/r1 RequestApproved e3[u1 u2] [u3]"}, nil},
		{"reject everyone", givenDecision(5, false),
			domain.Decide{Reject: []domain.UserID{"u1", "u2", "u3"}},
			[]string{"request/r1 RequestDenied [u1 u2 u3]"}, nil},
		{"not enough seats: nothing at all", givenDecision(1, false),
			domain.Decide{Approve: []domain.UserID{"u1", "u2"}, Reject: []domain.UserID{"u3"}},
			nil, domain.ErrNoLicensesAvailable},
		{"through a licensed group", givenDecision(5, false, "e5"),
			domain.Decide{Approve: []domain.UserID{"u1"}, Reject: []domain.UserID{"u2", "u3"}, GroupID: "g1"},
			[]string{"group/g1 GroupChanged [u1]", "product/e5 LicenseAssigned u1[]", "request/r1 RequestApproved e5[u1] [u2 u3]g1"}, nil},
		{"through a group without licenses", givenDecision(5, false),
			domain.Decide{Approve: []domain.UserID{"u1"}, Reject: []domain.UserID{"u2", "u3"}, GroupID: "g1"},
			nil, domain.ErrGroupNotLicensed},
		{"already decided", givenDecision(5, true),
			domain.Decide{Reject: []domain.UserID{"u1", "u2", "u3"}},
			nil, domain.ErrAlreadyDecided},
		{"a user left out", givenDecision(5, false),
			domain.Decide{Approve: []domain.UserID{"u1"}, Reject: []domain.UserID{"u2"}},
			nil, &domain.ValidationError{}},
		{"an unknown product", givenDecision(5, false),
			domain.Decide{Approve: []domain.UserID{"u1", "u2", "u3"}, ProductID: "visio"},
			nil, &domain.NotFoundError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.DecideRequestDecision(tc.given.state, "r1", tc.when)
			if tc.wantErr != nil {
				if !matches(err, tc.wantErr) || got != nil {
					t.Fatalf("got %v and %v, want error %v and no events", err, summary(got), tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := summary(got); !reflect.DeepEqual(s, tc.want) {
				t.Fatalf("events:\ngot  %q\nwant %q", s, tc.want)
			}
		})
	}
}
