package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/notify"
)

// TestReclaimEndToEnd: policy Teams reclaims licenses idle for 10 days,
// warning 3 days before. u1 and u2 claim the two seats of P on day 0 and u3
// queues. On day 7 both are warned (license.reclaim_warning mails); u2 signs
// in. On day 10 u1's license is reclaimed (license.reclaimed mail) and the
// seat goes to u3 from the queue; u2, who signed in after the warning,
// keeps the license. The clock is injected (a testClock); nothing sleeps.
func TestReclaimEndToEnd(t *testing.T) {
	day0 := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	clock := newTestClock(day0)
	w := newACWorldWith(t, func(c *Config) { clock.tune(c); c.AutoClaim.ReclaimEvery = 20 * time.Millisecond }, 2, 0)
	for _, u := range []string{"u1", "u2", "u3"} {
		w.svc.do(t, "PUT", "/v1/users/"+u, w.admin, map[string]any{"email": u + "@example.com", "display_name": "User " + u}).want(t, 200, "")
	}
	r := w.svc.do(t, "PATCH", "/v1/policies/"+w.policy, w.admin, map[string]any{"reclaim_after_days": 10, "reclaim_warn_days": 3}).want(t, 200, "")
	if r.body["reclaim_after_days"] != float64(10) || r.body["reclaim_warn_days"] != float64(3) || r.body["daily_cap"] != nil {
		t.Fatalf("policy after PATCH: %s", r.raw)
	}
	signIn := func(user string, at time.Time) map[string]any {
		t.Helper()
		return w.svc.do(t, "POST", "/v1/signins", w.ingest, map[string]any{"id": "s-" + user + "-" + at.Format("0102T1504"), "user_id": user,
			"app": "teams", "at": at.Format(time.RFC3339Nano)}).want(t, 200, "").body
	}
	for _, u := range []string{"u1", "u2"} {
		if got := signIn(u, day0.Add(-time.Minute)); got["status"] != "claimed" {
			t.Fatalf("%s's first sign-in: got %v, want claimed", u, got)
		}
	}
	if got := signIn("u3", day0.Add(-time.Minute)); got["status"] != "queued" || got["reason"] != events.QueueNoSeats {
		t.Fatalf("u3's sign-in: got %v, want queued for no_seats", got)
	}

	// Day 6: nobody is warned yet.
	clock.Set(day0.AddDate(0, 0, 6))
	if got := signIn("u2", day0.AddDate(0, 0, 6).Add(-time.Hour)); got["status"] != "already_licensed" {
		t.Fatalf("u2 on day 6: got %v", got)
	}
	// Day 7: u1 has been idle for 7 days and is warned; u2 signed in on
	// day 6 and is not.
	clock.Set(day0.AddDate(0, 0, 7).Add(time.Hour))
	waitFor(t, 30*time.Second, "u1's reclaim warning mail", func() bool { return len(mails(t, w, notify.KindReclaimWarning)) == 1 })
	if m := mails(t, w, notify.KindReclaimWarning)[0]; m.To[0] != "u1@example.com" {
		t.Fatalf("warning: got %+v, want to u1", m)
	}
	// Day 13: u2 (idle since day 6) is warned too, to be reclaimed on day
	// 16; u1's license was reclaimed on day 10, its seat went to u3.
	clock.Set(day0.AddDate(0, 0, 13))
	waitFor(t, 30*time.Second, "u1's license reclaimed and u3 granted", func() bool {
		return len(mails(t, w, notify.KindReclaimed)) == 1 && w.countClaims(t) == 3
	})
	if m := mails(t, w, notify.KindReclaimed)[0]; m.To[0] != "u1@example.com" {
		t.Fatalf("reclaimed: got %+v, want to u1", m)
	}
	waitFor(t, 30*time.Second, "u2's warning", func() bool { return len(mails(t, w, notify.KindReclaimWarning)) == 2 })
	// u2 signs in after the warning and keeps the license past day 16.
	if got := signIn("u2", day0.AddDate(0, 0, 13)); got["status"] != "already_licensed" {
		t.Fatalf("u2 after the warning: got %v", got)
	}
	// Day 20: u2, idle since day 13, is warned again (not reclaimed), and
	// u3, granted on day 13, is warned: the reactor has passed day 16.
	clock.Set(day0.AddDate(0, 0, 20).Add(time.Hour))
	waitFor(t, 30*time.Second, "the day-20 warnings", func() bool { return len(mails(t, w, notify.KindReclaimWarning)) == 4 })
	to := map[string]int{}
	for _, m := range mails(t, w, notify.KindReclaimWarning) {
		to[m.To[0]]++
	}
	if to["u1@example.com"] != 1 || to["u2@example.com"] != 2 || to["u3@example.com"] != 1 {
		t.Fatalf("warnings by recipient: got %v, want u1 1, u2 2, u3 1", to)
	}
	if !holds(t, w, "u2", "P") || holds(t, w, "u1", "P") || !holds(t, w, "u3", "P") {
		t.Fatalf("holders of P: want u2 and u3, not u1")
	}
	if n := w.countEvents(t, events.TypeLicenseReclaimed); n != 1 {
		t.Fatalf("LicenseReclaimed events: got %d, want 1 (u1 only)", n)
	}
	if q := w.policyView(t).Queue; len(q) != 0 {
		t.Fatalf("queue: got %v, want empty", q)
	}
}

// mails returns the notifications of kind sent so far.
func mails(t *testing.T, w *acWorld, kind string) []notify.Notification {
	t.Helper()
	var out []notify.Notification
	for _, m := range w.streamData(t, "SEATFLOW_NOTIFY", notify.Subject("contoso"), "") {
		var n notify.Notification
		if err := json.Unmarshal(m.Data, &n); err != nil {
			t.Fatal(err)
		}
		if n.Kind == kind {
			out = append(out, n)
		}
	}
	return out
}

// holds reports whether user holds product, as the user's licenses say.
func holds(t *testing.T, w *acWorld, user, product string) bool {
	t.Helper()
	r := w.svc.do(t, "GET", "/v1/users/"+user+"/licenses", w.admin, nil).want(t, 200, "")
	var ls []struct {
		ProductID string `json:"product_id"`
	}
	if err := json.Unmarshal([]byte(r.raw), &ls); err != nil {
		t.Fatalf("licenses: %v in %s", err, r.raw)
	}
	for _, l := range ls {
		if l.ProductID == product {
			return true
		}
	}
	return false
}
