package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/notify"
	"github.com/seatflow/seatflow/infra/sharelink"
	"github.com/seatflow/seatflow/projections"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func ev(id string, kind events.Kind, agg string, actor string, d events.Data) events.Envelope {
	return events.New(id, "contoso", events.Aggregate{Kind: kind, ID: agg}, t0, events.Meta{Actor: actor, CommandID: "c-" + id}, d)
}

func lookup(t *testing.T) (notify.ReadModels, []events.Envelope) {
	t.Helper()
	dir, counts, reqs := projections.NewDirectory(), projections.NewLicenseCounts(), projections.NewRequests()
	keys, err := auth.NewKeys([]byte("0123456789abcdef0123456789abcdef-test"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sharelink.New(keys)
	if err != nil {
		t.Fatal(err)
	}
	history := []events.Envelope{
		ev("e1", events.KindUser, "ada", "root", events.UserRegistered{UserID: "ada", Email: "ada@x.com", DisplayName: "Ada", Roles: []string{"global-admin"}}),
		ev("e2", events.KindUser, "lia", "root", events.UserRegistered{UserID: "lia", Email: "lia@x.com", DisplayName: "Lia", Roles: []string{"license-admin"}}),
		ev("e3", events.KindUser, "u1", "root", events.UserRegistered{UserID: "u1", Email: "u1@x.com", DisplayName: "Uma"}),
		ev("e4", events.KindUser, "u2", "root", events.UserRegistered{UserID: "u2", Email: "u2@x.com", DisplayName: "Udo"}),
		ev("e5", events.KindProduct, "e5", "ada", events.ProductAdded{ProductID: "e5", Name: "Office E5", Licenses: 3, SelfService: "blocked"}),
		ev("e6", events.KindRequest, "r1", "u1", events.RequestSubmitted{RequestID: "r1", ProductID: "e5", Requester: "u1", Users: []string{"u1", "u2"}, Justification: "project", ExpiresAt: t0.AddDate(0, 0, 30)}),
	}
	for _, e := range history {
		dir.Apply(e)
		counts.Apply(e)
		reqs.Apply(e)
	}
	return notify.ReadModels{Directory: dir, Products: counts, Requests: reqs, Link: notify.LinkBase("https://sf.example.com/", signer)}, history
}

func render(t *testing.T, l notify.ReadModels, e events.Envelope) []notify.Notification {
	t.Helper()
	rule := notify.RequestRules()[e.Type]
	if rule == nil {
		t.Fatalf("no rule for %s", e.Type)
	}
	drafts, err := rule(l, e)
	if err != nil {
		t.Fatal(err)
	}
	out, skipped := notify.Address(l, e, drafts)
	if len(skipped) > 0 {
		t.Fatalf("skipped %v", skipped)
	}
	return out
}

func summary(ns []notify.Notification) string {
	var parts []string
	for _, n := range ns {
		parts = append(parts, n.Kind+">"+strings.Join(n.To, ","))
	}
	return strings.Join(parts, " ")
}

func TestRules(t *testing.T) {
	l, history := lookup(t)
	submitted := history[len(history)-1]
	ns := render(t, l, submitted)
	if got, want := summary(ns), "request.submitted>ada@x.com request.submitted>lia@x.com"; got != want {
		t.Fatalf("submitted: got %q, want %q", got, want)
	}
	if ns[0].ID != "e6:request.submitted:ada" || ns[0].EventID != "e6" || ns[0].Refs.RequestID != "r1" || !strings.Contains(ns[0].Text, "Uma asks for Office E5 for: Uma, Udo") {
		t.Fatalf("submitted notification: %+v", ns[0])
	}
	ns = render(t, l, ev("e7", events.KindRequest, "r1", "ada", events.RequestApproved{RequestID: "r1", ProductID: "e5", Approved: []string{"u1"}, Rejected: []string{"u2"}, AlreadyLicensed: []string{}, Message: "have fun"}))
	if got, want := summary(ns), "request.approved>u1@x.com request.denied>u2@x.com"; got != want {
		t.Fatalf("approved: got %q, want %q", got, want)
	}
	for _, n := range ns {
		if !strings.Contains(n.Text, "have fun") {
			t.Fatalf("%s lacks the admin's message: %q", n.Kind, n.Text)
		}
	}
	ns = render(t, l, ev("e8", events.KindRequest, "r1", "ada", events.RequestShared{RequestID: "r1", Subject: "Opinion?",
		Recipients: []events.ShareRecipient{{Email: "lia@x.com", UserID: "lia", ShareID: "sh1"}}, ExpiresAt: t0.AddDate(0, 0, 7)}))
	if len(ns) != 1 || ns[0].Kind != "request.shared" || !strings.Contains(ns[0].Text, "https://sf.example.com/shared/") || strings.Contains(ns[0].Text, "/v1/") || ns[0].Subject != "Opinion?" {
		t.Fatalf("shared: %+v", ns)
	}
	again := render(t, l, ev("e8", events.KindRequest, "r1", "ada", events.RequestShared{RequestID: "r1", Subject: "Opinion?",
		Recipients: []events.ShareRecipient{{Email: "lia@x.com", UserID: "lia", ShareID: "sh1"}}, ExpiresAt: t0.AddDate(0, 0, 7)}))
	if again[0].Text != ns[0].Text {
		t.Fatal("a redelivered share renders another link")
	}
	ns = render(t, l, ev("e9", events.KindRequest, "r1", "seatflow-expiry", events.RequestExpiryWarned{RequestID: "r1", ExpiresAt: t0.AddDate(0, 0, 30)}))
	if got, want := summary(ns), "request.expiring>u1@x.com request.expiring>u2@x.com"; got != want {
		t.Fatalf("expiring: got %q, want %q", got, want)
	}
	ns = render(t, l, ev("e10", events.KindProduct, "e5", "u1", events.LicenseClaimed{ProductID: "e5", UserID: "u2", PolicyID: "p1", App: "teams", ClaimedAt: t0}))
	if got, want := summary(ns), "license.claimed>u2@x.com"; got != want || ns[0].Refs.PolicyID != "p1" {
		t.Fatalf("claimed: got %q, want %q (%+v)", got, want, ns)
	}
}
