package domain_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// grantView is the view of a grant as plain values: claimGiven's org,
// policy p1 (P with chat off, then B) and products, and the head of its
// queue in the directory (inactive or deleted when asked).
func grantView(g claimGiven, head *domain.User) domain.GrantView {
	v := g.view()
	return domain.GrantView{Org: v.Org, Policy: v.Policies["p1"], Products: v.Products, Head: head}
}

// TestDecideGrant: given a policy's queue and seats, when its head's turn
// comes, then the claim and the grant, the head dropped, or the queue left
// waiting, each with its outcome.
func TestDecideGrant(t *testing.T) {
	u1 := &domain.User{ID: "u1", Email: "u1@example.com"}
	for _, tc := range []struct {
		name    string
		given   claimGiven
		head    *domain.User
		opts    domain.ClaimOptions
		then    []string // events, in order
		outcome domain.GrantOutcome
	}{
		{"nobody waits", claimGiven{pSeats: 1}, nil, domain.ClaimOptions{}, nil,
			domain.GrantOutcome{Status: domain.GrantEmpty}},
		{"a free seat of the primary: claimed, then granted",
			claimGiven{pSeats: 3, bSeats: 1, queue: []string{"u1", "u2"}}, u1, domain.ClaimOptions{},
			[]string{"product/P LicenseClaimed u1", "policy/p1 QueuedUserGranted"},
			domain.GrantOutcome{Status: domain.GrantGranted, UserID: "u1", ProductID: "P"}},
		{"the primary full: the backup's last seat, the policy exhausted",
			claimGiven{pSeats: 0, bSeats: 1, queue: []string{"u1"}}, u1, domain.ClaimOptions{},
			[]string{"product/B LicenseClaimed u1", "product/B PolicyExhausted", "policy/p1 QueuedUserGranted"},
			domain.GrantOutcome{Status: domain.GrantGranted, UserID: "u1", ProductID: "B"}},
		{"crossing the low-seat threshold",
			claimGiven{pSeats: 2, bSeats: 1, queue: []string{"u1"}}, u1, domain.ClaimOptions{LowSeats: 1},
			[]string{"product/P LicenseClaimed u1", "product/P PoolLow", "policy/p1 QueuedUserGranted"},
			domain.GrantOutcome{Status: domain.GrantGranted, UserID: "u1", ProductID: "P"}},
		{"a head not in the directory is granted too",
			claimGiven{pSeats: 1, bSeats: 1, queue: []string{"u1"}}, nil, domain.ClaimOptions{},
			[]string{"product/P LicenseClaimed u1", "policy/p1 QueuedUserGranted"},
			domain.GrantOutcome{Status: domain.GrantGranted, UserID: "u1", ProductID: "P"}},
		{"every product full: the queue waits",
			claimGiven{pSeats: 0, bSeats: 0, queue: []string{"u1"}}, u1, domain.ClaimOptions{}, nil,
			domain.GrantOutcome{Status: domain.GrantWaiting, UserID: "u1", Reason: events.QueueNoSeats}},
		{"switch off: nobody is granted",
			claimGiven{off: true, pSeats: 1, queue: []string{"u1"}}, u1, domain.ClaimOptions{}, nil,
			domain.GrantOutcome{Status: domain.GrantOff, UserID: "u1"}},
		{"policy off: nobody is granted",
			claimGiven{disabled: true, pSeats: 1, queue: []string{"u1"}}, u1, domain.ClaimOptions{}, nil,
			domain.GrantOutcome{Status: domain.GrantOff, UserID: "u1"}},
		{"the head meanwhile holds a product the policy lists: dropped",
			claimGiven{pSeats: 1, bSeats: 1, holdsB: []string{"u1"}, queue: []string{"u1"}}, u1, domain.ClaimOptions{},
			[]string{"policy/p1 QueuedUserDropped u1 already_licensed"},
			domain.GrantOutcome{Status: domain.GrantDropped, UserID: "u1", Reason: events.DropAlreadyLicensed}},
		{"the head was deactivated while waiting: dropped",
			claimGiven{pSeats: 1, queue: []string{"u1", "u2"}}, &domain.User{ID: "u1", Inactive: true}, domain.ClaimOptions{},
			[]string{"policy/p1 QueuedUserDropped u1 user_inactive"},
			domain.GrantOutcome{Status: domain.GrantDropped, UserID: "u1", Reason: events.DropUserInactive}},
		{"the head was deleted while waiting: dropped",
			claimGiven{pSeats: 1, queue: []string{"u1"}}, &domain.User{ID: "u1", Deleted: true}, domain.ClaimOptions{},
			[]string{"policy/p1 QueuedUserDropped u1 user_inactive"},
			domain.GrantOutcome{Status: domain.GrantDropped, UserID: "u1", Reason: events.DropUserInactive}},
		{"daily cap reached: the whole queue waits",
			claimGiven{pSeats: 5, queue: []string{"u1"}, dailyCap: 2, today: 2, total: 2}, u1, domain.ClaimOptions{}, nil,
			domain.GrantOutcome{Status: domain.GrantWaiting, UserID: "u1", Reason: events.QueueDailyCap}},
		{"total cap reached: the whole queue waits",
			claimGiven{pSeats: 5, queue: []string{"u1"}, totalCap: 3, today: 0, total: 3}, u1, domain.ClaimOptions{}, nil,
			domain.GrantOutcome{Status: domain.GrantWaiting, UserID: "u1", Reason: events.QueueTotalCap}},
		{"under a cap: the grant is counted on the policy, after it",
			claimGiven{pSeats: 5, queue: []string{"u1"}, dailyCap: 2, today: 1, total: 4}, u1, domain.ClaimOptions{},
			[]string{"product/P LicenseClaimed u1", "policy/p1 QueuedUserGranted", "policy/p1 PolicyClaimsCounted " + domain.Day(now) + " 2/5"},
			domain.GrantOutcome{Status: domain.GrantGranted, UserID: "u1", ProductID: "P"}},
		{"yesterday's cap does not hold today",
			claimGiven{pSeats: 5, queue: []string{"u1"}, dailyCap: 2, today: 2, total: 2, stale: true}, u1, domain.ClaimOptions{},
			[]string{"product/P LicenseClaimed u1", "policy/p1 QueuedUserGranted", "policy/p1 PolicyClaimsCounted " + domain.Day(now) + " 1/3"},
			domain.GrantOutcome{Status: domain.GrantGranted, UserID: "u1", ProductID: "P"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := grantView(tc.given, tc.head)
			changes, outcome, err := domain.DecideGrant(v, tc.opts, now)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range changes {
				s := change(domain.BatchChange{Change: c})
				if d, ok := c.Data.(events.QueuedUserDropped); ok {
					s += " " + d.UserID + " " + d.Reason
				}
				got = append(got, s)
			}
			if !reflect.DeepEqual(got, tc.then) {
				t.Errorf("events: got %q, want %q", got, tc.then)
			}
			if outcome != tc.outcome {
				t.Errorf("outcome: got %+v, want %+v", outcome, tc.outcome)
			}
			if again := grantView(tc.given, tc.head); !reflect.DeepEqual(v, again) {
				t.Error("the decision modified the view")
			}
		})
	}
}

// TestDecideGrantEvents: the claim a grant makes is the queued sign-in's,
// stamped with the grant's time, with the disabled services the product
// still has; the grant names the product.
func TestDecideGrantEvents(t *testing.T) {
	g := claimGiven{pSeats: 1, bSeats: 1, queue: []string{"u1"}}
	v := grantView(g, nil)
	v.Products["P"].Services = []string{"mail"} // chat, off in the policy, is gone
	changes, _, err := domain.DecideGrant(v, domain.ClaimOptions{}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Change{
		{Agg: events.Aggregate{Kind: events.KindProduct, ID: "P"}, Data: events.LicenseClaimed{ProductID: "P", UserID: "u1", PolicyID: "p1",
			App: "teams", DisabledServices: []string{}, SigninID: "q-u1", ClaimedAt: now}},
		{Agg: events.Aggregate{Kind: events.KindPolicy, ID: "p1"}, Data: events.QueuedUserGranted{PolicyID: "p1", UserID: "u1", ProductID: "P"}},
	}
	if !reflect.DeepEqual(changes, want) {
		t.Fatalf("got %+v\nwant %+v", changes, want)
	}
}

// TestDecideGrantRefusesABadClaim: a claim the first free product cannot
// take (a user id no event may carry) is an error, and nothing is granted.
func TestDecideGrantRefusesABadClaim(t *testing.T) {
	v := grantView(claimGiven{pSeats: 1}, nil)
	domain.EvolvePolicy(v.Policy, events.Envelope{Data: events.UserQueued{PolicyID: "p1", UserID: "bad id", SigninID: "s1", Reason: events.QueueNoSeats}})
	changes, _, err := domain.DecideGrant(v, domain.ClaimOptions{}, now)
	var verr *domain.ValidationError
	if !errors.As(err, &verr) || changes != nil {
		t.Fatalf("got %v, %v; want a validation error and no events", changes, err)
	}
}
