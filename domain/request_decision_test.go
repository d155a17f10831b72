package domain_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

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
	case events.KindUser:
		return &domain.User{ID: domain.UserID(agg.ID)}
	case events.KindOrg:
		return &domain.Org{}
	default:
		return &domain.Request{ID: domain.RequestID(agg.ID)}
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

func requestWorld(own bool, selfService string, registered ...string) decisionWorld {
	w := decisionWorld{}
	org := &domain.Org{}
	if own {
		domain.EvolveOrg(org, events.Envelope{Data: events.RequestProcessChanged{Mode: "own", Message: "Use the portal", Link: "https://it.example.com"}})
	}
	w[events.Aggregate{Kind: events.KindOrg, ID: domain.OrgID}] = org
	p := &domain.Product{}
	domain.EvolveProduct(p, events.Envelope{Data: events.ProductAdded{ProductID: "e5", Name: "E5", Services: []string{}, Licenses: 1, SelfService: selfService}})
	w[events.Aggregate{Kind: events.KindProduct, ID: "e5"}] = p
	for _, u := range registered {
		usr := &domain.User{ID: domain.UserID(u)}
		domain.EvolveUser(usr, events.Envelope{Data: events.UserRegistered{UserID: u, Email: u + "@example.com", DisplayName: u}})
		w[events.Aggregate{Kind: events.KindUser, ID: u}] = usr
	}
	return w
}

// TestDecideSubmit: given the org, the product and the directory, when a
// user submits a request, then RequestSubmitted or why not.
func TestDecideSubmit(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	submit := domain.SubmitRequest{ProductID: "e5", Requester: "u1", Users: []domain.UserID{"u2"}, Justification: "launch", PendingFor: 72 * time.Hour}
	for _, tc := range []struct {
		name    string
		given   decisionWorld
		wantErr error
	}{
		{"submitted", requestWorld(false, "blocked", "u1", "u2"), nil},
		{"own request process", requestWorld(true, "blocked", "u1", "u2"), &domain.OwnProcessError{}},
		{"self-service allowed", requestWorld(false, "allowed", "u1", "u2"), domain.ErrSelfServiceAllowed},
		{"an unknown colleague", requestWorld(false, "blocked", "u1"), &domain.NotFoundError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.DecideSubmit(tc.given.state, "r1", submit, now)
			if tc.wantErr != nil {
				if !matches(err, tc.wantErr) || got != nil {
					t.Fatalf("got %v, %v; want %v and nothing", got, err, tc.wantErr)
				}
				return
			}
			want := []events.Data{events.RequestSubmitted{RequestID: "r1", ProductID: "e5", Requester: "u1", Users: []string{"u1", "u2"},
				Justification: "launch", ExpiresAt: now.Add(72 * time.Hour)}}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, want)
			}
		})
	}
}

// TestDecideShareAndAnswer: a pending request is shared with directory
// users only, its links end with the request at the latest, and each share
// is answered once while the request is pending.
func TestDecideShareAndAnswer(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	w := requestWorld(false, "blocked", "boss")
	r := &domain.Request{ID: "r1"}
	domain.EvolveRequest(r, events.Envelope{Data: events.RequestSubmitted{RequestID: "r1", ProductID: "e5", Requester: "u1", Users: []string{"u1"},
		ExpiresAt: now.Add(48 * time.Hour)}})
	w[events.Aggregate{Kind: events.KindRequest, ID: "r1"}] = r
	share := domain.ShareRequest{Recipients: []events.ShareRecipient{{Email: "boss@example.com", UserID: "boss", ShareID: "sh1"}}, TTL: 7 * 24 * time.Hour}
	got, err := domain.DecideShare(w.state, "r1", share, now)
	if err != nil || len(got) != 1 || !got[0].(events.RequestShared).ExpiresAt.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("share: %+v, %v; want one RequestShared ending with the request", got, err)
	}
	bad := share
	bad.Recipients = []events.ShareRecipient{{Email: "someone@else.example", UserID: "boss", ShareID: "sh2"}}
	if _, err := domain.DecideShare(w.state, "r1", bad, now); !matches(err, &domain.ValidationError{}) {
		t.Fatalf("share with an email that is not the user's: %v", err)
	}

	domain.EvolveRequest(r, events.Envelope{Data: got[0]})
	answer := domain.AnswerShare{ShareID: "sh1", Recommendation: domain.RecommendApprove, Comment: "yes"}
	if evs, err := domain.DecideAnswer(r, answer); err != nil || len(evs) != 1 {
		t.Fatalf("answer: %v, %v", evs, err)
	} else {
		domain.EvolveRequest(r, events.Envelope{Data: evs[0]})
	}
	if _, err := domain.DecideAnswer(r, answer); !matches(err, domain.ErrShareAnswered) {
		t.Fatalf("second answer: %v, want ErrShareAnswered", err)
	}
	if _, err := domain.DecideAnswer(r, domain.AnswerShare{ShareID: "nope", Recommendation: domain.RecommendDeny}); !matches(err, &domain.NotFoundError{}) {
		t.Fatalf("unknown share: %v", err)
	}
	domain.EvolveRequest(r, events.Envelope{Data: events.RequestDenied{RequestID: "r1", Rejected: []string{"u1"}}})
	if _, err := domain.DecideShare(w.state, "r1", share, now); !matches(err, domain.ErrAlreadyDecided) {
		t.Fatalf("share a decided request: %v", err)
	}
}
