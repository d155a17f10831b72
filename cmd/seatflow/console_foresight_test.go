package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the test types an instant in New York time, wherever it runs

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestConsoleHistoryAndForesight drives the history and foresight parts of
// the console in headless Chromium, by clicks and typing: a license's
// history from a user's row (its origin, who and when); the products, a
// user's licenses and a policy as of an instant before a purchase, an
// assignment and a change of limits (read-only, labelled); the forecast
// beside each product; a simulation of sign-ins in the policy pane, with
// the policy's order and a proposed one; and caps and reclaim days set in
// the policy pane, then read back from the API.
func TestConsoleHistoryAndForesight(t *testing.T) {
	t.Parallel()
	w := newRQWorld(t)
	ingest := token(t, "contoso", "idp", "ingest")
	// Policy Teams: E3 first, E5 as backup. u1 and u2 claim E3's two seats,
	// u3 gets E5.
	r := w.svc.do(t, "POST", "/v1/policies", w.admin, map[string]any{"name": "Teams users", "app": "teams",
		"products": []map[string]any{{"product_id": "e3"}, {"product_id": "e5"}}}).want(t, 201, "")
	policy := r.body["policy_id"].(string)
	w.svc.do(t, "PUT", "/v1/settings/auto-claim", w.admin, map[string]any{"enabled": true}).want(t, 200, "")
	for _, u := range []string{"u1", "u2", "u3"} {
		r := w.svc.do(t, "POST", "/v1/signins", ingest, map[string]any{"id": "s-" + u, "user_id": u, "app": "teams",
			"at": time.Now().UTC().Format(time.RFC3339Nano)}).want(t, 200, "")
		if r.body["status"] != "claimed" {
			t.Fatalf("%s's sign-in: %s", u, r.raw)
		}
	}
	// u2's E3 is taken back, u2 asks for it and lia approves: u2's E3 has
	// a policy, an unassignment and a request in its history.
	w.svc.do(t, "DELETE", "/v1/products/e3/assignments/u2", w.admin, nil).want(t, 200, "")
	req := w.submit(t, "u2", "e3")
	r = w.svc.do(t, "POST", "/v1/requests/"+req+"/decision", w.lia, map[string]any{"approve": []string{"u2"}, "product_id": "e3"}).want(t, 200, "")
	pos := num(r.body["position"])
	w.svc.do(t, "GET", "/v1/products?after="+pos, w.admin, nil).want(t, 200, "")
	// asOf is an instant after all of the above and before everything that
	// follows: the next whole second (as_of is to the second in the page).
	asOf := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	waitFor(t, 5*time.Second, "the clock to pass the as-of instant", func() bool { return time.Now().After(asOf) })
	// After it: u1 gets Visio by hand.
	r = w.svc.do(t, "POST", "/v1/products/visio/assignments", w.admin, map[string]any{"user_id": "u1", "disabled_services": []string{}}).want(t, 201, "")
	w.svc.do(t, "GET", "/v1/users/u1/licenses?after="+num(r.body["position"]), w.admin, nil).want(t, 200, "")

	browser := startBrowser(t)
	admin := newPage(t, browser, w.svc.base)
	// The date picker is typed in as a person in New York would.
	ctx, cancel := context.WithTimeout(admin.ctx, stepTimeout)
	_, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"})
	if err == nil {
		_, err = chromedp.Call(ctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en_US"})
	}
	cancel()
	if err != nil {
		t.Fatalf("time zone and locale: %v", err)
	}
	admin.signIn(w.admin)
	admin.nav("Licenses")

	// The forecast beside each product: E3 is out (two claims this week,
	// no seat left), E5 has 9 seats at one claim a week.
	e3, e5 := "//tr[@data-product-id='e3']", "//tr[@data-product-id='e5']"
	admin.waitVisible(e3 + "/td[@data-field='forecast']")
	if got := admin.text(e3 + "/td[@data-field='forecast']"); got != "Run out No licenses left Buy 9 to cover 30 days" {
		t.Errorf("E3's forecast reads %q", got)
	}
	if got := admin.text(e5 + "/td[@data-field='forecast']"); !strings.HasPrefix(got, "Runs out ") || !strings.HasSuffix(got, " 63 days left") {
		t.Errorf("E5's forecast reads %q", got)
	}
	if got := admin.text("//tr[@data-product-id='visio']/td[@data-field='forecast']"); got != "No recent claims" {
		t.Errorf("Visio's forecast reads %q", got)
	}
	admin.shot("console-forecast")

	// History from a user's row: u2's E3 was claimed under the policy, as
	// its primary product, unassigned by ada, then assigned from u2's
	// request, approved by lia (the assignment and the approval are one
	// write, the product's event first).
	admin.click(e3 + "//button[normalize-space()='Office 365 E3']")
	admin.click(within(pane, "//tr[@data-user-id='u2']"+button("History of User u2's license")))
	hist := "//aside[contains(@class,'history-panel')]"
	admin.waitVisible(hist + "//li[@data-type='LicenseClaimed']")
	if got := admin.text(hist + "//p[contains(@class,'history-of')]"); got != "User u2 u2@example.com · Office 365 E3" {
		t.Errorf("the history is of %q", got)
	}
	var entries []string
	for i := 1; i <= admin.count(hist+"//ol[contains(@class,'timeline')]/li"); i++ {
		li := hist + "//ol[contains(@class,'timeline')]/li[" + strconv.Itoa(i) + "]"
		entries = append(entries, admin.text(li+"//span[@data-field='what']")+" | "+admin.text(li+"//dd[@data-field='origin']")+" | "+
			admin.text(li+"//dd[@data-field='actor']"))
	}
	want := []string{
		"Claimed at first sign-in | Auto-claim policy claimed under policy " + policy + " (version ",
		"Unassigned | Auto-claim policy license claimed under policy " + policy + " (version ",
		"Assigned | License request request " + req + " by u2, approved by lia (position ",
		"Request approved | License request request " + req + " by u2, approved by lia (position ",
	}
	if len(entries) != len(want) {
		t.Fatalf("u2's E3 history: %q", entries)
	}
	for i, e := range entries {
		if !strings.HasPrefix(e, want[i]) {
			t.Errorf("u2's E3 history entry %d: %q, want it to start %q", i+1, e, want[i])
		}
	}
	for i, by := range []string{"User u2 u2@example.com", "User ada ada@example.com", "User lia lia@example.com", "User lia lia@example.com"} {
		if !strings.HasSuffix(entries[i], "| "+by) {
			t.Errorf("u2's E3 history entry %d is by %q, want %s", i+1, entries[i], by)
		}
	}
	if !strings.Contains(entries[0], "primary product") {
		t.Errorf("the claim does not name the product's place: %q", entries[0])
	}
	admin.shot("console-history")
	// Closing the history goes back to the product.
	admin.click(within(hist, button("Close")))
	admin.waitVisible(within(pane, "//h2[normalize-space()='Office 365 E3']"))

	// A user's licenses: u1 holds E3 (policy) and Visio (by hand); Visio's
	// history names the admin.
	admin.pickFirst("User", "u1", "User u1")
	admin.click(button("Show licenses"))
	mine := "//div[contains(@class,'user-licenses') and @data-user-id='u1']"
	admin.waitVisible(mine + "//tr[@data-product-id='visio']")
	if got := admin.text(mine + "//tr[@data-product-id='e3']/td[@data-field='origin']"); got != "Auto-claim policy "+policy {
		t.Errorf("u1's E3 origin reads %q", got)
	}
	admin.click(mine + "//tr[@data-product-id='visio']" + button("History of User u1's license"))
	admin.waitVisible(hist + "//li[@data-type='LicenseAssigned']")
	if got := admin.text(hist + "//li[@data-type='LicenseAssigned']"); !strings.Contains(got, "Origin Assigned by an admin") || !strings.Contains(got, "By User ada") {
		t.Errorf("Visio's assignment reads %q", got)
	}

	// Buy 5 E5 licenses now, then look at the products as of before.
	admin.click(e5 + "//button[normalize-space()='Office 365 E5']")
	admin.replaceText(labelled("Licenses to buy"), "5")
	admin.click(button("Buy licenses"))
	admin.waitVisible(e5 + "/td[@data-field='purchased' and normalize-space()='15']")
	admin.typeAsOf(asOf.In(mustZone(t, "America/New_York")))
	admin.click(button("Show as of"))
	banner := "//div[contains(@class,'asof-banner')]"
	admin.waitVisible(banner)
	admin.ready()
	if got := admin.text(banner); !strings.Contains(got, "Read-only: as of "+asOf.Format("2 Jan 2006 15:04:05")+" UTC.") {
		t.Errorf("the as-of banner reads %q", got)
	}
	admin.waitVisible(e5 + "/td[@data-field='purchased' and normalize-space()='10']")
	if n := admin.count("//td[@data-field='forecast']"); n != 0 {
		t.Errorf("the forecast shows as of a past instant")
	}
	admin.click(e5 + "//button[normalize-space()='Office 365 E5']")
	admin.waitVisible(within(pane, "//dd[@data-field='purchased' and normalize-space()='10']"))
	if n := admin.count(pane + button("Buy licenses") + "|" + pane + button("Assign")); n != 0 {
		t.Errorf("the product pane offers %d changes as of a past instant", n)
	}
	// u1 held only E3 then: Visio came after.
	admin.waitVisible(mine + "//tr[@data-product-id='e3']")
	if n := admin.count(mine + "//tr[@data-product-id='visio']"); n != 0 {
		t.Errorf("u1 held Visio as of before it was assigned")
	}
	admin.shot("console-asof")
	admin.click(button("Back to now"))
	admin.waitGone(banner)
	admin.waitVisible(e5 + "/td[@data-field='purchased' and normalize-space()='15']")
	admin.waitVisible(mine + "//tr[@data-product-id='visio']")

	// The policy pane: simulate 12 sign-ins. E3 is full and E5 has 14:
	// twelve claim E5. With Visio added to a proposed order after E3 it is
	// the same, and with E3 alone ten wait.
	admin.nav("Auto-claim policy")
	row := "//tr[@data-policy-id=" + xq(policy) + "]"
	admin.click(row + "//button")
	admin.waitVisible(within(pane, "//h2[normalize-space()='Teams users']"))
	sim := pane + "//form[@aria-label='Simulate sign-ins']"
	admin.replaceText(labelledIn(sim, "Number of sign-ins"), "16")
	admin.click(within(sim, button("Simulate")))
	result := sim + "//div[contains(@class,'sim-result') and @data-signins='16']"
	admin.waitVisible(result)
	if got := admin.text(result + "//tr[@data-product-id='e5']/td[@data-field='count']"); got != "14" {
		t.Errorf("simulated E5 claims: %q, want 14", got)
	}
	if got := admin.text(result + "//p[@data-field='queued']"); got != "2 people would wait for a license." {
		t.Errorf("simulated queue: %q", got)
	}
	admin.click(within(sim, "//label[normalize-space()='Try a proposed product order']"))
	admin.choose(labelledIn(sim, "Product"), "Visio")
	admin.click(within(sim, button("Add to the proposed order")))
	admin.click(within(sim, button("Move Visio up in the proposed order")))
	admin.click(within(sim, button("Simulate")))
	admin.waitVisible(result + "//tr[@data-product-id='visio']")
	if got := admin.text(result + "//h4"); got != "If 16 people sign in now, with the proposed order" {
		t.Errorf("the proposed order's result is headed %q", got)
	}
	if got := admin.text(result + "//tbody"); got != "Office 365 E3 (primary) 0 Visio (backup 1) 1 Office 365 E5 (backup 2) 14" {
		t.Errorf("simulated with Visio second: %q", got)
	}
	if got := admin.text(result + "//p[@data-field='queued']"); got != "1 person would wait for a license." {
		t.Errorf("simulated queue with Visio: %q", got)
	}
	admin.shot("console-simulate")
	if p := w.svc.do(t, "GET", "/v1/policies/"+policy, w.admin, nil).want(t, 200, "").body; len(p["products"].([]any)) != 2 {
		t.Errorf("the simulation changed the policy: %v", p["products"])
	}

	// Caps and reclaim days, saved and read back from the API.
	limits := pane + "//form[@aria-label='Claim limits and reclaiming']"
	admin.typeInto(labelledIn(limits, "Daily cap"), "5")
	admin.typeInto(labelledIn(limits, "Total cap"), "100")
	admin.typeInto(labelledIn(limits, "Reclaim unused licenses after (days)"), "30")
	admin.typeInto(labelledIn(limits, "Warn before reclaiming (days)"), "5")
	admin.click(within(limits, button("Save limits")))
	admin.waitVisible(within(limits, withText("p", "Limits saved.")))
	p := w.svc.do(t, "GET", "/v1/policies/"+policy, w.admin, nil).want(t, 200, "").body
	if p["daily_cap"] != 5.0 || p["total_cap"] != 100.0 || p["reclaim_after_days"] != 30.0 || p["reclaim_warn_days"] != 5.0 {
		t.Fatalf("the policy's limits after Save limits: %v", p)
	}
	admin.shot("console-policy-limits")
	// A warning longer than the period is refused, with the server's reason.
	admin.replaceText(labelledIn(limits, "Warn before reclaiming (days)"), "40")
	admin.click(within(limits, button("Save limits")))
	admin.waitVisible(within(limits, "//div[@role='alert' and contains(normalize-space(), 'reclaim_warn_days')]"))
	// Clearing the daily cap turns it off.
	admin.replaceText(labelledIn(limits, "Warn before reclaiming (days)"), "5")
	admin.replaceText(labelledIn(limits, "Daily cap"), "")
	admin.click(within(limits, button("Save limits")))
	admin.waitVisible(within(limits, withText("p", "Limits saved.")))
	if p := w.svc.do(t, "GET", "/v1/policies/"+policy, w.admin, nil).want(t, 200, "").body; p["daily_cap"] != nil || p["total_cap"] != 100.0 {
		t.Fatalf("the policy's limits after clearing the daily cap: %v", p)
	}

	// The policy as of before the limits: read-only, no caps.
	admin.typeAsOf(asOf.In(mustZone(t, "America/New_York")))
	admin.click(button("Show as of"))
	admin.waitVisible(banner)
	admin.ready()
	admin.click(row + "//button")
	admin.waitVisible(within(pane, "//dd[@data-field='total_cap' and normalize-space()='Off']"))
	if n := admin.count(pane + "//form"); n != 0 {
		t.Errorf("the policy pane as of a past instant has %d forms", n)
	}
	if n := admin.count(button("Add a policy") + "[not(@hidden)]"); n != 0 {
		t.Errorf("Add a policy is offered as of a past instant")
	}
	admin.shot("console-asof-policy")
	admin.click(button("Back to now"))
	admin.waitGone(banner)
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// typeAsOf types at into the "View as of" date picker as a person in an
// en-US locale does: month, day, year, hour, minute, second, AM or PM,
// each field moving on to the next once typed.
func (p *page) typeAsOf(at time.Time) {
	p.t.Helper()
	sel := labelled("View as of")
	p.waitVisible(sel)
	p.do("type the as-of instant", chromedp.Focus(sel),
		chromedp.SendKeys(sel, at.Format("01022006")+at.Format("030405")+at.Format("PM")[:1]))
}
