package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/notify"
)

// TestAutoClaimAlerts: PoolLow and PolicyExhausted reach the global admins
// only (not license admins or users), as pool.low, with their refs.
func TestAutoClaimAlerts(t *testing.T) {
	l, _ := lookup(t)
	for _, e := range []events.Envelope{
		ev("a1", events.KindProduct, "e5", "u1", events.PoolLow{PolicyID: "p1", ProductID: "e5", Available: 2, Threshold: 2}),
		ev("a2", events.KindProduct, "e5", "u2", events.PolicyExhausted{PolicyID: "p1", ProductID: "e5"}),
	} {
		rule := notify.AutoClaimRules()[e.Type]
		if rule == nil {
			t.Fatalf("no rule for %s", e.Type)
		}
		drafts, err := rule(l, e)
		if err != nil {
			t.Fatal(err)
		}
		ns, skipped := notify.Address(l, e, drafts)
		if len(skipped) > 0 || len(ns) != 1 {
			t.Fatalf("%s: got %+v (skipped %v), want one notification", e.Type, ns, skipped)
		}
		n := ns[0]
		if n.Kind != notify.KindPoolLow || n.To[0] != "ada@x.com" || n.Refs != (notify.Refs{PolicyID: "p1", ProductID: "e5"}) ||
			n.ID != notify.MsgID(e.ID, notify.KindPoolLow, "ada") || n.Subject == "" || n.Text == "" {
			t.Fatalf("%s: %+v", e.Type, n)
		}
	}
	if got := notify.RequestRules().Merge(notify.AutoClaimRules()); got[events.TypePoolLow] == nil || got[events.TypeRequestSubmitted] == nil {
		t.Fatal("merged rules lack a type")
	}
}

// TestReclaimNotifications: a reclaim warning and a reclaim reach the
// license's user, with the dates and the app to sign in to.
func TestReclaimNotifications(t *testing.T) {
	l, _ := lookup(t)
	seen := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		e    events.Envelope
		kind string
		want string
	}{
		{ev("w1", events.KindProduct, "e5", "seatflow-reclaim", events.LicenseReclaimWarned{ProductID: "e5", UserID: "u1", PolicyID: "p1",
			App: "teams", LastSeen: seen, ReclaimAt: seen.AddDate(0, 0, 30)}), notify.KindReclaimWarning, "2026-10-31"},
		{ev("r1", events.KindProduct, "e5", "seatflow-reclaim", events.LicenseReclaimed{ProductID: "e5", UserID: "u1", PolicyID: "p1",
			App: "teams", LastSeen: seen}), notify.KindReclaimed, "2026-10-01"},
	} {
		drafts, err := notify.DefaultRules()[tc.e.Type](l, tc.e)
		if err != nil {
			t.Fatal(err)
		}
		ns, skipped := notify.Address(l, tc.e, drafts)
		if len(skipped) > 0 || len(ns) != 1 {
			t.Fatalf("%s: got %+v (skipped %v), want one notification", tc.e.Type, ns, skipped)
		}
		n := ns[0]
		if n.Kind != tc.kind || n.To[0] != "u1@x.com" || n.Refs != (notify.Refs{PolicyID: "p1", ProductID: "e5"}) ||
			!strings.Contains(n.Text, tc.want) || !strings.Contains(n.Text, "teams") {
			t.Fatalf("%s: %+v", tc.e.Type, n)
		}
	}
}
