package oracle_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/oracle"
)

// stream builds messages as the store writes them: each event on its
// aggregate's subject, its id as Nats-Msg-Id, at the next sequence.
type stream struct {
	msgs []oracle.Message
}

func (s *stream) add(kind events.Kind, id, command string, d events.Data) *stream {
	seq := uint64(len(s.msgs) + 1)
	env := events.New(fmt.Sprintf("e%03d", seq), "t", events.Aggregate{Kind: kind, ID: id}, time.Unix(int64(seq), 0),
		events.Meta{Actor: "a", CommandID: command}, d)
	env.Position = seq
	s.msgs = append(s.msgs, oracle.Message{Seq: seq, Subject: env.Subject(), MsgID: env.ID, Env: env})
	return s
}

func (s *stream) product(command string, d events.Data) *stream {
	var id string
	switch d := d.(type) {
	case events.ProductAdded:
		id = d.ProductID
	case events.LicensesPurchased:
		id = d.ProductID
	case events.LicensesRemoved:
		id = d.ProductID
	case events.LicenseAssigned:
		id = d.ProductID
	case events.LicensesAssigned:
		id = d.ProductID
	case events.LicenseClaimed:
		id = d.ProductID
	case events.LicensesClaimed:
		id = d.ProductID
	case events.LicenseUnassigned:
		id = d.ProductID
	case events.LicenseReclaimed:
		id = d.ProductID
	}
	return s.add(events.KindProduct, id, command, d)
}

func (s *stream) policy(command string, d events.Data) *stream {
	return s.add(events.KindPolicy, "pol", command, d)
}

func (s *stream) fold(whole bool) *oracle.Fold { return oracle.FoldAll(s.msgs, whole) }

func added(licenses int) events.ProductAdded {
	return events.ProductAdded{ProductID: "p", Name: "P", Licenses: licenses}
}

func claim(user, signin string) events.LicenseClaimed {
	return events.LicenseClaimed{ProductID: "p", UserID: user, PolicyID: "pol", App: "teams", SigninID: signin}
}

func assign(user string) events.LicenseAssigned {
	return events.LicenseAssigned{ProductID: "p", UserID: user, Source: events.Source{Kind: events.SourceManual}}
}

func policyWithP() events.PolicyCreated {
	return events.PolicyCreated{PolicyID: "pol", Name: "Teams", App: "teams", Products: []events.PolicyProduct{{ProductID: "p"}}}
}

func TestFoldFindsEachViolation(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    func() *stream
		want string // "" for none
	}{
		{"clean", func() *stream {
			return new(stream).product("c1", added(2)).policy("c2", policyWithP()).product("s1", claim("u1", "s1")).
				product("c3", assign("u2")).product("c4", events.LicenseUnassigned{ProductID: "p", UserID: "u2"}).
				product("c5", events.LicensesRemoved{ProductID: "p", Count: 1})
		}, ""},
		{"over-assigned by a claim", func() *stream {
			return new(stream).product("c1", added(1)).product("s1", claim("u1", "s1")).product("s2", claim("u2", "s2"))
		}, "invariant 1: product p has 2 assigned of 1 purchased"},
		{"over-assigned by a removal", func() *stream {
			return new(stream).product("c1", added(1)).product("c2", assign("u1")).product("c3", events.LicensesRemoved{ProductID: "p", Count: 1})
		}, "invariant 1: product p has 1 assigned of 0 purchased"},
		{"over-assigned by assignments decided together", func() *stream {
			return new(stream).product("c1", added(1)).product("assign-c2", events.LicensesAssigned{ProductID: "p", Assignments: []events.Assignment{
				{UserID: "u1", CommandID: "c2"}, {UserID: "u2", CommandID: "c3"}}})
		}, "invariant 1"},
		{"held twice", func() *stream {
			return new(stream).product("c1", added(2)).product("c2", assign("u1")).product("s1", claim("u1", "s1"))
		}, "invariant 2: user u1 holds a second license of p"},
		{"claimed twice", func() *stream {
			return new(stream).product("c1", added(2)).product("s1", claim("u1", "s1")).
				product("c2", events.LicenseReclaimed{ProductID: "p", UserID: "u1", PolicyID: "pol"}).product("s2", claim("u1", "s2"))
		}, "invariant 3: user u1 claims under policy pol a 2. time"},
		{"claimed twice in one batch", func() *stream {
			return new(stream).product("c1", added(5)).product("claims-s1", events.LicensesClaimed{ProductID: "p", PolicyID: "pol", App: "teams",
				Claims: []events.Claim{{UserID: "u1", SigninID: "s1"}, {UserID: "u1", SigninID: "s2"}}})
		}, "invariant 3"},
		{"stored twice", func() *stream {
			s := new(stream).product("c1", added(2)).product("c2", assign("u1"))
			dup := s.msgs[1]
			dup.Seq, dup.Env.Position = 3, 3
			s.msgs = append(s.msgs, dup)
			return s
		}, "invariant 4: event e002 (LicenseAssigned) stored twice, at 2 and 3"},
		{"misfiled", func() *stream {
			s := new(stream).product("c1", added(2))
			s.msgs[0].Subject = "sf.evt.other.product.p"
			return s
		}, "invariant 4: ProductAdded e001 stored on sf.evt.other.product.p"},
		{"message id not the event id", func() *stream {
			s := new(stream).product("c1", added(2))
			s.msgs[0].MsgID = "x"
			return s
		}, `invariant 4: Nats-Msg-Id "x" is not the event id "e001"`},
		{"out of order", func() *stream {
			s := new(stream).product("c1", added(2)).product("c2", assign("u1"))
			s.msgs[0], s.msgs[1] = s.msgs[1], s.msgs[0]
			return s
		}, "invariant 4: sequence 1 follows 2"},
		{"claim while waiting", func() *stream {
			return new(stream).product("c1", added(0)).policy("c2", policyWithP()).
				policy("s1", events.UserQueued{PolicyID: "pol", UserID: "u1", SigninID: "s1"}).
				product("c3", events.LicensesPurchased{ProductID: "p", Count: 1}).product("s2", claim("u1", "s2"))
		}, "user u1 claims p under pol (command s2) while waiting in its queue"},
		{"queued twice", func() *stream {
			return new(stream).product("c1", added(0)).policy("c2", policyWithP()).
				policy("s1", events.UserQueued{PolicyID: "pol", UserID: "u1", SigninID: "s1"}).
				policy("s2", events.UserQueued{PolicyID: "pol", UserID: "u1", SigninID: "s2"})
		}, "user u1 queued under pol (command s2) while already waiting"},
		{"queued while holding", func() *stream {
			return new(stream).product("c1", added(1)).policy("c2", policyWithP()).product("c3", assign("u1")).
				policy("s1", events.UserQueued{PolicyID: "pol", UserID: "u1", SigninID: "s1"})
		}, "user u1 queued under pol (command s1) while holding p since 3"},
		{"granted out of order", func() *stream {
			return new(stream).product("c1", added(0)).policy("c2", policyWithP()).
				policy("s1", events.UserQueued{PolicyID: "pol", UserID: "u1", SigninID: "s1"}).
				policy("s2", events.UserQueued{PolicyID: "pol", UserID: "u2", SigninID: "s2"}).
				policy("g", events.QueuedUserGranted{PolicyID: "pol", UserID: "u2", ProductID: "p"})
		}, "user u2 leaves the queue of pol but is not its head"},
		{"decided twice", func() *stream {
			return new(stream).add(events.KindRequest, "r1", "c1", events.RequestSubmitted{RequestID: "r1", ProductID: "p", Requester: "u1", Users: []string{"u1"}}).
				add(events.KindRequest, "r1", "c2", events.RequestDenied{RequestID: "r1", Rejected: []string{"u1"}}).
				add(events.KindRequest, "r1", "c3", events.RequestExpired{RequestID: "r1"})
		}, "request r1 decided a 2. time (RequestExpired, command c3)"},
		{"decision of an unknown request", func() *stream {
			return new(stream).add(events.KindRequest, "r1", "c1", events.RequestDenied{RequestID: "r1", Rejected: []string{"u1"}})
		}, "RequestDenied of unknown request r1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.s().fold(false)
			err := f.Err()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got violations:\n%v\nwant none", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got violations %v, want one containing %q", err, tc.want)
			case tc.want != "" && f.Count() != len(f.Violations()):
				t.Fatalf("count %d, %d violations kept", f.Count(), len(f.Violations()))
			}
		})
	}
}

func TestFoldWholeStreamHasNoGap(t *testing.T) {
	s := new(stream).product("c1", added(2)).product("c2", assign("u1")).product("c3", assign("u2"))
	if err := s.fold(true).Err(); err != nil {
		t.Fatalf("whole stream without a gap: %v", err)
	}
	s.msgs = append(s.msgs[:1], s.msgs[2:]...)
	if err := s.fold(false).Err(); err != nil {
		t.Fatalf("a tenant's messages may have gaps: %v", err)
	}
	if err := s.fold(true).Err(); err == nil || !strings.Contains(err.Error(), "sequence 3 follows 1 in the whole stream: a gap") {
		t.Fatalf("whole stream with a gap: got %v", err)
	}
	s.msgs = s.msgs[1:]
	if err := s.fold(true).Err(); err == nil || !strings.Contains(err.Error(), "sequence 3 follows 0") {
		t.Fatalf("whole stream not from 1: got %v", err)
	}
}

func TestFoldState(t *testing.T) {
	f := new(stream).product("c1", added(3)).policy("c2", policyWithP()).
		product("s1", claim("u1", "s1")).
		product("assign-c3", events.LicensesAssigned{ProductID: "p", Assignments: []events.Assignment{
			{UserID: "u2", CommandID: "c3", Source: events.Source{Kind: events.SourceManual}},
			{UserID: "u3", CommandID: "c4", Source: events.Source{Kind: events.SourceRequest, Ref: "r1"}}}}).
		policy("s2", events.UserQueued{PolicyID: "pol", UserID: "u4", SigninID: "s2"}).
		product("c5", events.LicenseUnassigned{ProductID: "p", UserID: "u2"}).
		product(string(domain.GrantCommandID("pol", "s2")), claim("u4", "s2")).
		policy(string(domain.GrantCommandID("pol", "s2")), events.QueuedUserGranted{PolicyID: "pol", UserID: "u4", ProductID: "p"}).
		fold(true)
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	tn := f.Tenant("t")
	if got := fmt.Sprint(tn.Purchased["p"], tn.Assigned("p"), tn.Available("p"), tn.ClaimCount(), len(tn.Queues["pol"])); got != "3 3 0 2 0" {
		t.Errorf("purchased, assigned, available, claims, waiting: got %s, want 3 3 0 2 0", got)
	}
	if h := tn.Holders["p"]["u3"]; h.Source.Kind != events.SourceRequest || h.Command != "c4" || h.Seq != 4 {
		t.Errorf("u3's holding: %+v", h)
	}
	if evs := tn.ByCommand["c4"]; len(evs) != 1 || evs[0].Type != events.TypeLicenseAssigned || evs[0].Data.(events.LicenseAssigned).UserID != "u3" {
		t.Errorf("c4's events: %+v", evs)
	}
	if got := tn.SignIn("s2"); got != (oracle.SignIn{Queued: 1, Grants: 1}) {
		t.Errorf("s2: %+v", got)
	}
	if !tn.HoldsPolicyProduct("pol", "u4") || tn.HoldsPolicyProduct("pol", "u2") {
		t.Errorf("holds a product of pol: u4 %t, u2 %t", tn.HoldsPolicyProduct("pol", "u4"), tn.HoldsPolicyProduct("pol", "u2"))
	}
	sum := f.Summary()
	if sum.Events != 8 || sum.Claims["t"] != 2 || sum.Assigned[[2]string{"t", "p"}] != 3 || sum.Purchased[[2]string{"t", "p"}] != 3 || sum.Queued["t"] != 0 {
		t.Errorf("summary: %+v", sum)
	}
	if got := f.Tenants(); fmt.Sprint(got) != "[t]" {
		t.Errorf("tenants: %v", got)
	}
}

func TestCheckCommand(t *testing.T) {
	f := new(stream).product("c1", added(3)).
		product("c2", assign("u1")).
		product("assign-c3", events.LicensesAssigned{ProductID: "p", Assignments: []events.Assignment{{UserID: "u2", CommandID: "c3"}, {UserID: "u3", CommandID: "c4"}}}).
		product("c5", assign("u4")).product("c5", events.LicenseUnassigned{ProductID: "p", UserID: "u4"}).
		fold(true)
	want := []string{events.TypeLicenseAssigned}
	for _, tc := range []struct {
		c    oracle.Command
		want string
	}{
		{oracle.Command{Tenant: "t", ID: "c2", Acked: true, Want: want, Only: true}, ""},
		{oracle.Command{Tenant: "t", ID: "c4", Acked: true, Want: want, Only: true}, ""},
		{oracle.Command{Tenant: "t", ID: "c9", Acked: false}, ""},
		{oracle.Command{Tenant: "t", ID: "c5", Acked: true, Want: want}, ""},
		{oracle.Command{Tenant: "t", ID: "c5", Acked: true, Want: want, Only: true}, "but its events are [LicenseAssigned@4 LicenseUnassigned@5]"},
		{oracle.Command{Tenant: "t", ID: "c9", Acked: true, Want: want}, "but its events are []"},
		{oracle.Command{Tenant: "other", ID: "c2", Acked: true, Want: want}, "but its events are []"},
		{oracle.Command{Tenant: "t", ID: "c2", Acked: true, Want: []string{events.TypeLicenseUnassigned}}, "want one of [LicenseUnassigned]"},
		{oracle.Command{Tenant: "t", ID: "c3", Acked: false}, "command c3 was refused, yet 1 of its events stand"},
	} {
		err := f.Check(tc.c)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: got %v, want %q", tc.c, err, tc.want)
		}
	}
}

func TestCheckSignIn(t *testing.T) {
	grant := string(domain.GrantCommandID("pol", "q1"))
	f := new(stream).product("c1", added(1)).policy("c2", policyWithP()).
		product("s1", claim("u1", "s1")).
		policy("q1", events.UserQueued{PolicyID: "pol", UserID: "u2", SigninID: "q1"}).
		product("c3", events.LicensesPurchased{ProductID: "p", Count: 1}).
		product(grant, claim("u2", "q1")).policy(grant, events.QueuedUserGranted{PolicyID: "pol", UserID: "u2", ProductID: "p"}).
		policy("q3", events.UserQueued{PolicyID: "pol", UserID: "u3", SigninID: "q3"}).
		product("c4", events.LicensesPurchased{ProductID: "p", Count: 1}).
		product("c5", assign("u3")).
		policy("d", events.QueuedUserDropped{PolicyID: "pol", UserID: "u3", Reason: events.DropAlreadyLicensed}).
		policy("q5", events.UserQueued{PolicyID: "pol", UserID: "u5", SigninID: "q5"}).
		fold(true)
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	out := func(status domain.ClaimStatus) domain.ClaimOutcome {
		return domain.ClaimOutcome{Status: status, PolicyID: "pol"}
	}
	for _, tc := range []struct {
		id, user string
		status   domain.ClaimStatus
		ok       bool
	}{
		{"s1", "u1", domain.ClaimClaimed, true},
		{"q1", "u2", domain.ClaimClaimed, true}, // delivered again after its grant
		{"q1", "u2", domain.ClaimQueued, true},
		{"q3", "u3", domain.ClaimAlreadyLicensed, true}, // delivered again after its drop
		{"q5", "u5", domain.ClaimQueued, true},
		{"s9", "u5", domain.ClaimQueued, true}, // u5 already waited
		{"s9", "u1", domain.ClaimAlreadyLicensed, true},
		{"s9", "u1", domain.ClaimOff, true},
		{"s1", "u1", domain.ClaimQueued, false},
		{"s1", "u1", domain.ClaimAlreadyLicensed, false},
		{"q5", "u5", domain.ClaimClaimed, false},
		{"q5", "u5", domain.ClaimAlreadyLicensed, false},
		{"s9", "u1", domain.ClaimClaimed, false},
		{"s9", "u9", domain.ClaimQueued, false}, // never queued
		{"q1", "u2", domain.ClaimAlreadyLicensed, false},
		{"q1", "u2", domain.ClaimAlreadyClaimed, false},
	} {
		err := f.CheckSignIn("t", tc.id, tc.user, out(tc.status))
		if (err == nil) != tc.ok {
			t.Errorf("sign-in %s of %s answered %s: got %v, want ok %t", tc.id, tc.user, tc.status, err, tc.ok)
		}
	}
}
