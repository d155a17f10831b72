package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/seatflow/seatflow/infra/sharelink"
)

// emailedLinkRE finds the share page's address in a request.shared email.
var emailedLinkRE = regexp.MustCompile(`http://\S+/shared/\S+`)

// TestConsoleRequests drives the request document end to end in headless
// Chromium: a user asks for three people; an admin approves two from
// another product with one service off and a message, and rejects one; the
// emails say so; the admin shares another request, the decision maker opens
// the emailed link, answers, and the admin sees the answer; the
// organisation's own request process on and off, as a user sees it.
func TestConsoleRequests(t *testing.T) {
	t.Parallel()
	w := newRQWorld(t)
	browser := startBrowser(t)

	// A user asks for themself and two colleagues, found by typing.
	user := newPage(t, browser, w.svc.base)
	user.signIn(token(t, "contoso", "u1", "user"))
	user.waitVisible(withText("h1", "Request a license"))
	user.choose(labelled("Select a product"), "Office 365 E5")
	user.pickFirst("Colleagues who also need it (optional)", "u2", "User u2")
	user.pickFirst("Colleagues who also need it (optional)", "u3@exa", "User u3")
	user.typeInto(labelled("Justification"), "Webinars for the launch")
	user.shot("console-user-request")
	user.click(button("Submit"))
	user.waitVisible(withText("div", "Request sent."))
	id := user.eval(`document.querySelector(".notice.ok[data-request-id]").dataset.requestId`)
	var listed []any
	waitFor(t, 5*time.Second, "the request in the list", func() bool {
		listed = w.svc.do(t, "GET", "/v1/requests", token(t, "contoso", "u1", "user"), nil).want(t, 200, "").list
		return len(listed) > 0
	})
	if len(listed) != 1 {
		t.Fatalf("the user's requests: %v, want the one submitted", listed)
	}
	d := w.svc.do(t, "GET", "/v1/requests/"+id, w.admin, nil).want(t, 200, "").body
	if got := d["users"]; !slices.Equal(toStrings(got), []string{"u1", "u2", "u3"}) || d["justification"] != "Webinars for the launch" || d["product_id"] != "e5" {
		t.Fatalf("the submitted request: %v", d)
	}

	// An admin approves u1 and u2 from E3 with chat off and rejects u3.
	admin := newPage(t, browser, w.svc.base)
	admin.signIn(w.admin)
	admin.waitVisible(withText("h1", "Requests"))
	row := "//tr[@data-request-id=" + xq(id) + "]"
	admin.waitVisible(row)
	if got := admin.text(row); !strings.Contains(got, "Office 365 E5 User u1 3") || !strings.Contains(got, "Pending") {
		t.Errorf("the request's row reads %q", got)
	}
	admin.shot("console-requests")
	admin.click(row + "//button")
	admin.waitVisible(within(pane, "//ul[@aria-label='Approve for the following people']/li[@data-user-id='u3']"))
	if got := admin.text(within(pane, "//dd[@data-field='justification']")); got != "Webinars for the launch" {
		t.Errorf("justification in the pane: %q", got)
	}
	admin.click(button("Reject User u3"))
	admin.waitVisible(within(pane, "//ul[@aria-label='Reject for the following people']/li[@data-user-id='u3']"))
	admin.choose(labelled("Select a product"), "Office 365 E3")
	admin.waitVisible(within(pane, "//fieldset[legend='Turn apps and services on or off']//label[normalize-space()='chat']"))
	if n := admin.count(pane + "//fieldset[legend='Turn apps and services on or off']//input[@type='checkbox']"); n != 2 {
		t.Errorf("E3 shows %d service check boxes, want 2 (mail, chat)", n)
	}
	admin.click(within(pane, "//label[normalize-space()='chat']"))
	// No group has licenses: the group option is greyed out and says why.
	group := labelled("Assign license by adding the approved individuals to the following security group")
	if admin.count(group+"[@disabled]") != 1 || !strings.Contains(admin.text(within(pane, "//div[contains(@class,'group-option')]")), "No security group has licenses assigned") {
		t.Errorf("the group option is not greyed out with its reason")
	}
	admin.typeInto(labelled("Message (optional)"), "Welcome to E3")
	admin.shot("console-request-details")
	admin.click(within(pane, button("Submit")))
	admin.waitVisible(within(pane, "//dd[@data-field='message' and normalize-space()='Welcome to E3']"))
	if got := admin.text(within(pane, "//ul[contains(@class,'people')]")); got != "User u1 u1@example.com approved User u2 u2@example.com approved User u3 u3@example.com rejected" {
		t.Errorf("outcomes in the pane: %q", got)
	}
	admin.waitVisible(within(pane, "//span[@data-status='partially_approved']"))

	// One approval and one denial email per user, with the message.
	ns := w.waitNotes(t, id, map[string]int{"request.submitted ada@example.com": 1, "request.submitted lia@example.com": 1,
		"request.approved u1@example.com": 1, "request.approved u2@example.com": 1, "request.denied u3@example.com": 1})
	for _, n := range ns {
		if n.Refs["request_id"] == id && (n.Kind == "request.approved" || n.Kind == "request.denied") && !strings.Contains(n.Text, "Welcome to E3") {
			t.Errorf("%s to %v lacks the admin's message: %q", n.Kind, n.To, n.Text)
		}
	}
	// Both writes carried the console's Idempotency-Key as command id.
	for _, m := range w.reads.streamData(t, "SEATFLOW_EVENTS", "sf.evt.contoso.request."+id, "") {
		var e struct {
			Type      string `json:"type"`
			CommandID string `json:"command_id"`
		}
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(e.CommandID, "console-") {
			t.Errorf("%s has command id %q, not the console's Idempotency-Key", e.Type, e.CommandID)
		}
	}
	for _, u := range []string{"u1", "u2"} {
		l := w.svc.do(t, "GET", "/v1/users/"+u+"/licenses", w.admin, nil).want(t, 200, "").list
		if len(l) != 1 || l[0].(map[string]any)["product_id"] != "e3" || !slices.Equal(toStrings(l[0].(map[string]any)["disabled_services"]), []string{"chat"}) {
			t.Errorf("%s's licenses: %v, want E3 with chat off", u, l)
		}
	}

	// The user sees the decision and the license with its origin.
	user.nav("My requests")
	mine := "//tr[@data-request-id=" + xq(id) + "]"
	if got := user.text(mine); !strings.Contains(got, "Partially approved") || !strings.Contains(got, "Welcome to E3") {
		t.Errorf("the user's request reads %q", got)
	}
	user.nav("My licenses")
	if got := user.text("//tr[@data-product-id='e3']"); !strings.Contains(got, "Office 365 E3") || !strings.Contains(got, "chat") ||
		!strings.Contains(got, "Approved request "+id) {
		t.Errorf("the user's license reads %q", got)
	}
	user.shot("console-user-licenses")

	// The admin shares another request; an address outside the directory
	// is refused.
	other := w.submit(t, "u2", "e5")
	w.svc.do(t, "GET", "/v1/requests/"+other+"?after="+w.last, w.admin, nil).want(t, 200, "")
	admin.click(button("Pending requests"))
	orow := "//tr[@data-request-id=" + xq(other) + "]"
	admin.click(orow + "//button")
	admin.waitVisible(within(pane, "//dd[@data-field='requester' and normalize-space()='User u2 u2@example.com']"))
	admin.click(within(pane, button("Share request")))
	admin.typeInto(labelled("Recipients"), "nobody@example.com\r")
	admin.waitVisible(withText("p", "“nobody@example.com” is not a user in your organisation's directory."))
	admin.replaceText(labelled("Recipients"), "")
	admin.pickFirst("Recipients", "boss", "User boss")
	admin.typeInto(labelled("Subject (optional)"), "Your view on E5?")
	admin.typeInto(labelledIn("//form[@aria-label='Share request']", "Message (optional)"), "Please advise by Friday")
	admin.shot("console-share")
	admin.click(within(pane, button("Share")))
	admin.waitVisible(within(pane, "//ul[contains(@class,'shares')]/li[@data-email='boss@example.com']"))

	// The decision maker opens the emailed link and answers.
	var link string
	for _, n := range w.waitNotes(t, other, map[string]int{"request.submitted ada@example.com": 1, "request.submitted lia@example.com": 1,
		"request.shared boss@example.com": 1}) {
		if n.Kind == "request.shared" && n.Refs["request_id"] == other {
			link = emailedLinkRE.FindString(n.Text)
			if n.Subject != "Your view on E5?" {
				t.Errorf("share email subject %q", n.Subject)
			}
		}
	}
	if !strings.HasPrefix(link, w.svc.base+"/shared/") {
		t.Fatalf("the emailed link %q does not open this service's /shared/ page", link)
	}
	boss := newPage(t, browser, w.svc.base)
	boss.open(strings.TrimPrefix(link, w.svc.base))
	boss.waitVisible(`//body[@data-state='ready']`)
	for field, want := range map[string]string{"product": "Office 365 E5", "requester": "User u2", "users": "User u2",
		"justification": "new project", "shared-by": "User ada", "message": "Please advise by Friday"} {
		if got := boss.text("//dd[@data-field=" + xq(field) + "]"); got != want {
			t.Errorf("shared page %s: got %q, want %q", field, got, want)
		}
	}
	if got := boss.text("//h1"); got != "Your view on E5?" {
		t.Errorf("shared page heading %q", got)
	}
	boss.click("//label[normalize-space()='Approve']")
	boss.typeInto(labelled("Comment (optional)"), "Worth it for the launch")
	boss.shot("shared-request")
	boss.click(button("Submit"))
	boss.waitVisible(withText("div", "Thank you."))
	// A second visit says it was answered; a forged or expired link says so.
	boss.open(strings.TrimPrefix(link, w.svc.base))
	boss.waitVisible(withText("div", "You already answered this request."))
	if got := boss.text("//div[@data-field='answer']"); !strings.Contains(got, "approving") || !strings.Contains(got, "Worth it for the launch") {
		t.Errorf("second visit reads %q", got)
	}
	boss.open(strings.TrimPrefix(link[:len(link)-4]+"abcd", w.svc.base))
	boss.waitVisible("//h1[normalize-space()='This link is not valid']")
	signer, err := sharelink.New(testKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimPrefix(link, w.svc.base+"/shared/")
	tok, _ = url.PathUnescape(tok)
	c, err := signer.Verify(tok, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.ExpiresAt = time.Now().Add(-time.Hour)
	expired, err := signer.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	boss.open("/shared/" + url.PathEscape(expired))
	boss.waitVisible("//h1[normalize-space()='This link has expired']")

	// The admin sees the answer on the request.
	admin.click(orow + "//button")
	answer := within(pane, "//ul[contains(@class,'shares')]/li[@data-email='boss@example.com' and @data-answered='true']")
	admin.waitVisible(answer)
	if got := admin.text(answer); !strings.Contains(got, "Recommends approval") || !strings.Contains(got, "Worth it for the launch") {
		t.Errorf("the answer on the request reads %q", got)
	}
	admin.shot("console-shared-answer")

	// Own request process on: users see its message and link, not the form.
	admin.click(button("Connect your request process"))
	admin.click("//label[normalize-space()='Use my own license request process']")
	admin.typeInto(labelled("Message to users"), "Ask the IT desk at extension 4242")
	admin.typeInto(labelled("Link to your request process documentation"), "https://it.example.com/licenses")
	admin.click(within(pane, button("Save")))
	banner := withText("div", "You're using your own license request process")
	admin.waitVisible(banner)
	admin.shot("console-own-process")
	user.nav("Request a license")
	user.waitVisible(withText("h2", "Your organisation handles license requests in its own process"))
	if got := user.text("//p[@data-field='message']"); got != "Ask the IT desk at extension 4242" {
		t.Errorf("own process message %q", got)
	}
	if got := user.eval(`document.querySelector("a[data-field=link]").href`); got != "https://it.example.com/licenses" {
		t.Errorf("own process link %q", got)
	}
	if user.count(labelled("Justification")) != 0 {
		t.Errorf("the request form is shown while the organisation uses its own process")
	}
	user.shot("console-user-own-process")

	// And off again: the form is back.
	admin.click("//label[normalize-space()='Use my own license request process']")
	admin.click(within(pane, button("Save")))
	admin.waitVisible(within(pane, withText("p", "Users can request licenses here again.")))
	admin.waitGone(banner)
	user.nav("My requests")
	user.nav("Request a license")
	user.waitVisible(labelled("Justification"))
}

func toStrings(v any) []string {
	xs, _ := v.([]any)
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i], _ = x.(string)
	}
	return out
}

// TestConsoleAutoClaim drives the auto-claim document end to end: turn the
// setting on, add a policy with a primary and a backup product through the
// wizard, reorder, rename, edit its products and services, turn it off and
// on, a sign-in claims, the report for each period names the user, and the
// CSV downloads.
func TestConsoleAutoClaim(t *testing.T) {
	t.Parallel()
	w := newRQWorld(t)
	browser := startBrowser(t)
	admin := newPage(t, browser, w.svc.base)
	admin.signIn(w.admin)
	admin.nav("Auto-claim policy")

	setting := func(want string) string {
		return "//span[@data-field='setting' and normalize-space()=" + xq(want) + "]"
	}
	admin.waitVisible(setting("Off"))
	admin.click(button("Turn on setting"))
	admin.waitVisible(setting("On"))
	if s := w.svc.do(t, "GET", "/v1/settings/auto-claim", w.admin, nil).want(t, 200, "").body; s["enabled"] != true {
		t.Fatalf("auto-claim setting after Turn on setting: %v", s)
	}

	// The wizard: name; app, primary and backup; apps per product; review.
	admin.click(button("Add a policy"))
	admin.typeInto(labelled("Policy name"), "Teams users")
	admin.click(within(pane, button("Next")))
	admin.typeInto(labelled("App"), "teams")
	admin.choose(labelled("Product"), "Office 365 E3")
	admin.click(button("Add a backup product to this policy"))
	admin.choose(labelled("Backup product 1"), "Office 365 E5")
	admin.shot("console-add-policy")
	admin.click(within(pane, button("Next")))
	admin.click("//fieldset[legend='Office 365 E5']//label[normalize-space()='chat']")
	admin.click(within(pane, button("Next")))
	if got := admin.text(within(pane, "//dl")); !strings.Contains(got, "Teams users") || !strings.Contains(got, "teams") ||
		!strings.Contains(got, "Office 365 E3 (primary) Office 365 E5 (backup) · off: chat") {
		t.Errorf("the review reads %q", got)
	}
	admin.click(button("Create policy"))
	admin.waitVisible(within(pane, "//h2[normalize-space()='Teams users']"))
	pols := w.svc.do(t, "GET", "/v1/policies", w.admin, nil).want(t, 200, "").list
	if len(pols) != 1 {
		t.Fatalf("policies after Create policy: %v", pols)
	}
	id := pols[0].(map[string]any)["policy_id"].(string)
	policy := func() (name string, products []string, enabled bool) {
		p := w.svc.do(t, "GET", "/v1/policies/"+id, w.admin, nil).want(t, 200, "").body
		for _, pp := range p["products"].([]any) {
			pp := pp.(map[string]any)
			products = append(products, pp["product_id"].(string)+":"+strings.Join(toStrings(pp["disabled_services"]), ","))
		}
		return p["name"].(string), products, p["enabled"] == true
	}
	if name, products, on := policy(); name != "Teams users" || !slices.Equal(products, []string{"e3:", "e5:chat"}) || !on {
		t.Fatalf("created policy: %s %v on=%v", name, products, on)
	}
	row := "//tr[@data-policy-id=" + xq(id) + "]"
	if got := admin.text(row); !strings.Contains(got, "Teams users teams Office 365 E3 + 1 backup 12 On") {
		t.Errorf("the policy's row reads %q", got)
	}

	// Reorder, add and remove a product, services for one product, rename.
	item := func(n int, product string) string {
		return pane + "//ol[contains(@class,'policy-products')]/li[" + strconv.Itoa(n) + "][@data-product-id=" + xq(product) + "]"
	}
	admin.click(within(item(2, "e5"), button("Move up")))
	admin.waitVisible(item(1, "e5"))
	admin.choose(labelledIn(pane, "Product to add"), "Visio")
	admin.click(within(pane, button("Add a backup product to this policy")))
	admin.waitVisible(item(3, "visio"))
	admin.click(within(item(3, "visio"), button("Remove a product")))
	admin.waitGone(item(3, "visio"))
	admin.choose(labelled("Apply to"), "Office 365 E3")
	admin.click("//form[@aria-label='Apps and services']//label[normalize-space()='mail']")
	admin.click(button("Save apps and services"))
	admin.waitVisible(within(item(2, "e3"), withText("span", "off: mail")))
	admin.replaceText(labelled("Policy name"), "Teams everyone")
	admin.click(button("Rename"))
	admin.waitVisible(within(pane, "//h2[normalize-space()='Teams everyone']"))
	// Off and on again, the policy and the setting.
	admin.click(button("Turn off policy"))
	admin.waitVisible(within(pane, "//span[@data-field='status' and normalize-space()='Off']"))
	admin.waitVisible(row + "//td[@data-field='status' and normalize-space()='Off']")
	if _, _, on := policy(); on {
		t.Errorf("the policy is still on after Turn off policy")
	}
	admin.click(button("Turn on policy"))
	admin.waitVisible(within(pane, "//span[@data-field='status' and normalize-space()='On']"))
	admin.click(button("Turn off setting"))
	admin.waitVisible(setting("Off"))
	admin.click(button("Turn on setting"))
	admin.waitVisible(setting("On"))
	if name, products, on := policy(); name != "Teams everyone" || !slices.Equal(products, []string{"e5:chat", "e3:mail"}) || !on {
		t.Fatalf("edited policy: %s %v on=%v, want Teams everyone [e5:chat e3:mail] on", name, products, on)
	}
	admin.shot("console-policy")

	// A sign-in claims from the new primary.
	r := w.svc.do(t, "POST", "/v1/signins", token(t, "contoso", "idp", "ingest"), map[string]any{
		"id": "console-signin-1", "user_id": "u1", "app": "teams", "at": time.Now().UTC().Format(time.RFC3339)}).want(t, 200, "")
	if r.body["status"] != "claimed" || r.body["product_id"] != "e5" {
		t.Fatalf("sign-in: %s", r.raw)
	}
	w.svc.do(t, "GET", "/v1/reports/claims?after="+num(r.body["position"]), w.admin, nil).want(t, 200, "")

	// The report: 90 days by default, then each period, with the user.
	admin.click(button("View report"))
	report := func(days int) {
		t.Helper()
		sec := "//section[contains(@class,'report') and @data-days=" + xq(strconv.Itoa(days)) + "]"
		art := sec + "//article[@data-policy-id=" + xq(id) + "]"
		admin.waitVisible(art)
		if got := admin.text(art + "//span[@data-field='total']"); got != "1 license claimed" {
			t.Errorf("report %dd total %q", days, got)
		}
		if got := admin.text(art + "//tr[@data-product-id='e5']"); got != "Office 365 E5 1" {
			t.Errorf("report %dd by product %q", days, got)
		}
		if n := admin.count(art + "//li[@data-date=" + xq(time.Now().UTC().Format(time.DateOnly)) + "]"); n != 1 {
			t.Errorf("report %dd has no bar for today", days)
		}
		if got := admin.text(art + "//tr[@data-user-id='u1']"); !strings.Contains(got, "User u1 u1@example.com Office 365 E5") {
			t.Errorf("report %dd claimed users %q", days, got)
		}
	}
	report(90)
	// The list was read again: E5 gave one of its 10, E3 has 2.
	admin.waitVisible(row + "//td[@data-field='available' and normalize-space()='11']")
	admin.shot("console-report")
	for _, d := range []int{1, 7, 30} {
		label := "Past " + strconv.Itoa(d) + " days"
		if d == 1 {
			label = "Past 1 day"
		}
		admin.click("//label[normalize-space()=" + xq(label) + "]")
		report(d)
		// The focus stays on the period chosen, for keyboard users.
		if got := admin.eval(`document.activeElement.type + " " + document.activeElement.value`); got != "radio "+strconv.Itoa(d) {
			t.Errorf("after choosing %s the focus is on %q", label, got)
		}
	}

	// The CSV of the period shown.
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(admin.ctx, stepTimeout)
	_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
	cancel()
	if err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	admin.click(button("Download CSV"))
	admin.waitVisible(withText("p", "Downloaded claims-30d.csv."))
	var csv []byte
	waitFor(t, 10*time.Second, "the downloaded CSV", func() bool {
		csv, err = os.ReadFile(filepath.Join(dir, "claims-30d.csv"))
		return err == nil && len(csv) > 0
	})
	if want := "policy_id,name,app,date,product_id,count\n" + id + ",Teams everyone,teams," + time.Now().UTC().Format(time.DateOnly) + ",e5,1\n"; string(csv) != want {
		t.Errorf("downloaded CSV:\n%s\nwant:\n%s", csv, want)
	}
}

// num prints a JSON number as an integer.
func num(v any) string {
	f, _ := v.(float64)
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// TestConsoleRoles: the pages are static and strict (CSP, no inline script,
// text only); a license admin manages licenses and requests but sees no
// auto-claim editing; a plain user sees only their own pages; both read
// well on a phone.
func TestConsoleRoles(t *testing.T) {
	t.Parallel()
	w := newRQWorld(t)
	// A product whose name is markup must reach the page as text.
	w.svc.do(t, "POST", "/v1/products", w.admin, map[string]any{"product_id": "evil", "name": `<img src=x id=xss onerror=alert(1)>Evil & Co`,
		"services": []string{"x"}, "licenses": 1, "self_service": "blocked"}).want(t, 201, "")

	t.Run("assets", func(t *testing.T) {
		for _, path := range []string{"/console", "/console/app.js", "/console/api.js", "/console/ui.js", "/console/picker.js",
			"/console/requests.js", "/console/licenses.js", "/console/autoclaim.js", "/console/user.js", "/console/shared.js", "/console/names.js",
			"/console/asof.js", "/console/history.js", "/console/foresight.js", "/console/foresight.css",
			"/console/identity.js",
			"/console/style.css", "/console/icon.svg", "/shared/any-token"} {
			res := w.svc.do(t, "GET", path, "", nil).want(t, 200, "")
			csp := res.header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
				t.Errorf("%s: Content-Security-Policy %q, want only this origin and nothing unsafe", path, csp)
			}
			if res.header.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("%s: Referrer-Policy %q; a share link's token must not leak", path, res.header.Get("Referrer-Policy"))
			}
			if regexp.MustCompile(`https?://[a-z0-9]`).MatchString(res.raw) && !strings.HasSuffix(path, ".svg") {
				t.Errorf("%s refers to another origin; the console loads nothing from elsewhere", path)
			}
			switch {
			case strings.HasSuffix(path, ".js"):
				for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
					if strings.Contains(res.raw, sink) {
						t.Errorf("%s uses %s; API data goes into the page as text only", path, sink)
					}
				}
			case !strings.Contains(path, "."):
				for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(res.raw, -1) {
					if !strings.Contains(tag, "src=") {
						t.Errorf("%s has an inline script %s", path, tag)
					}
				}
				if strings.Contains(res.raw, "style=") || strings.Contains(res.raw, "<style") || regexp.MustCompile(` on[a-z]+=`).MatchString(res.raw) {
					t.Errorf("%s has inline style or event handlers, which the CSP forbids", path)
				}
			}
		}
		w.svc.do(t, "GET", "/console/nope.js", "", nil).want(t, 404, "not_found")
	})

	browser := startBrowser(t)
	navItems := func(p *page) string {
		return p.eval(`[...document.querySelectorAll("nav a")].map((a) => a.textContent).join(", ")`)
	}
	forbidden := "//div[contains(@class,'notice') and contains(@class,'forbidden')]"

	t.Run("license admin", func(t *testing.T) {
		lia := newPage(t, browser, w.svc.base)
		lia.signIn(w.lia)
		if got := navItems(lia); got != "Requests, Licenses" {
			t.Errorf("a license admin's navigation: %q, want Requests, Licenses", got)
		}
		lia.open("/console#/autoclaim")
		lia.ready()
		if got := lia.text(forbidden); !strings.Contains(got, "Auto-claim policies can be managed by a Global admin only.") {
			t.Errorf("a license admin on the auto-claim page sees %q", got)
		}
		if n := lia.count(button("Turn on setting") + "|" + button("Add a policy")); n != 0 {
			t.Errorf("a license admin sees %d auto-claim controls", n)
		}

		lia.nav("Licenses")
		if got := lia.text("//tr[@data-product-id='evil']/td[@data-field='name']"); got != "<img src=x id=xss onerror=alert(1)>Evil & Co" {
			t.Errorf("the markup product's name shows as %q", got)
		}
		if lia.count("//img[@id='xss']") != 0 {
			t.Errorf("a product name was parsed as HTML")
		}
		e3 := "//tr[@data-product-id='e3']"
		if got := lia.text(e3); got != "Office 365 E3 2 0 2 Blocked No recent claims" {
			t.Errorf("E3 row %q", got)
		}
		lia.click(e3 + "//button")
		lia.waitVisible(within(pane, "//h2[normalize-space()='Office 365 E3']"))
		if got := lia.eval(`document.activeElement.tagName + " " + document.activeElement.textContent`); got != "H2 Office 365 E3" {
			t.Errorf("focus after opening the product is on %q, want its heading", got)
		}
		// Buy, assign with a service off, refuse to remove below assigned,
		// unassign, allow self-service.
		lia.replaceText(labelled("Licenses to buy"), "3")
		lia.click(button("Buy licenses"))
		lia.waitVisible(within(pane, "//dd[@data-field='purchased' and normalize-space()='5']"))
		lia.pickFirst("Users", "u1", "User u1")
		lia.click(within(pane, "//label[normalize-space()='chat']"))
		lia.click(button("Assign"))
		holder := within(pane, "//tr[@data-user-id='u1']")
		lia.waitVisible(holder)
		if got := lia.text(holder); !strings.Contains(got, "User u1 u1@example.com chat Assigned by an admin since "+time.Now().UTC().Format("2 Jan 2006")) {
			t.Errorf("the holder row reads %q", got)
		}
		lia.replaceText(labelled("Licenses to remove"), "5")
		lia.click(button("Remove licenses"))
		refusal := within(pane, "//div[@role='alert' and @data-code='below_assigned']")
		lia.waitVisible(refusal)
		if got := lia.text(refusal); !strings.Contains(got, "assigned") {
			t.Errorf("the refusal reads %q", got)
		}
		lia.shot("console-licenses")
		lia.click(button("Unassign User u1"))
		lia.waitGone(holder)
		lia.choose(labelled("Self-service purchase"), "Allowed")
		lia.click(button("Save setting"))
		lia.waitVisible(e3 + "/td[@data-field='self_service' and normalize-space()='Allowed']")
		if l := w.svc.do(t, "GET", "/v1/users/u1/licenses", w.admin, nil).want(t, 200, "").list; len(l) != 0 {
			t.Errorf("u1 still holds %v after Unassign", l)
		}
		p := w.svc.do(t, "GET", "/v1/products/e3", w.admin, nil).want(t, 200, "").body
		if p["purchased"] != 5.0 || p["assigned"] != 0.0 || p["self_service"] != "allowed" {
			t.Errorf("E3 after the license admin's changes: %v", p)
		}
		// Escape closes the pane.
		lia.do("press Escape", chromedp.SendKeys(within(pane, "//h2"), kb.Escape))
		lia.waitGone(pane)

		// A license admin fulfils a request through a licensed group.
		w.svc.do(t, "PUT", "/v1/groups/sales", w.admin, map[string]any{"name": "Sales", "members": []string{},
			"products": []map[string]any{{"product_id": "e5", "disabled_services": []string{"teams"}}}}).want(t, 200, "")
		id := w.submit(t, "u3", "e5")
		w.svc.do(t, "GET", "/v1/groups?after="+w.last, w.admin, nil).want(t, 200, "")
		lia.nav("Requests")
		lia.click("//tr[@data-request-id=" + xq(id) + "]//button")
		group := labelled("Assign license by adding the approved individuals to the following security group")
		lia.click(group)
		lia.choose(labelledIn(pane, "Security group"), "Sales")
		if lia.count(labelled("Select a product")+"[@disabled]") != 1 {
			t.Errorf("the product stays selectable while a group fulfils the request")
		}
		lia.click(within(pane, button("Submit")))
		lia.waitVisible(within(pane, "//span[@data-status='approved']"))
		if got := lia.text("(" + pane + "//dl)[2]"); !strings.Contains(got, "Security group sales") {
			t.Errorf("the decision reads %q", got)
		}
		l := w.svc.do(t, "GET", "/v1/users/u3/licenses", w.admin, nil).want(t, 200, "").list
		if len(l) != 1 || l[0].(map[string]any)["source"].(map[string]any)["kind"] != "group" {
			t.Errorf("u3's licenses after group fulfilment: %v", l)
		}
	})

	t.Run("bad token", func(t *testing.T) {
		p := newPage(t, browser, w.svc.base)
		p.open("/console")
		p.typeInto(labelled("Bearer token"), token(t, "contoso", "ada", "global-admin")+"x")
		p.click(button("Sign in"))
		p.waitVisible("//body[@data-state='login']")
		if got := p.text("//p[@id='login-message']"); !strings.Contains(got, "did not accept this token") {
			t.Errorf("a refused token brings %q", got)
		}
		if n := p.count("//nav[not(@hidden)]"); n != 0 {
			t.Errorf("the navigation shows after a refused token")
		}
	})

	t.Run("user", func(t *testing.T) {
		u := newPage(t, browser, w.svc.base)
		u.signIn(token(t, "contoso", "u2", "user"))
		if got := navItems(u); got != "Request a license, My requests, My licenses" {
			t.Errorf("a user's navigation: %q", got)
		}
		for _, view := range []string{"requests", "licenses", "autoclaim"} {
			u.open("/console#/" + view)
			u.ready()
			u.waitVisible(forbidden)
			if n := u.count("//table"); n != 0 {
				t.Errorf("a user on #/%s sees %d tables", view, n)
			}
		}
		u.nav("Request a license")
		// Only products a user cannot buy themselves are offered.
		if got := u.eval(`[...document.querySelector("select").options].map((o) => o.textContent).join(", ")`); !strings.HasPrefix(got, "<img src=x id=xss onerror=alert(1)>Evil & Co, ") ||
			!strings.Contains(got, "Office 365 E5") || strings.Contains(got, "Visio") {
			t.Errorf("a user may request %q, want the blocked products (the markup name as text) and not Visio", got)
		}

		// On a phone nothing needs scrolling sideways.
		u.choose(labelled("Select a product"), "Office 365 E5")
		u.do("phone viewport", chromedp.EmulateViewport(390, 844))
		u.ready()
		if got := u.eval(`String(document.documentElement.scrollWidth)`); got != "390" {
			t.Errorf("on a 390px phone the page is %spx wide", got)
		}
		u.shot("console-phone")
		u.do("desktop viewport", chromedp.EmulateReset())
	})
}
