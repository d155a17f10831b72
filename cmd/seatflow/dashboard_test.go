package main

import (
	"bytes"
	"context"
	"html"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// findChromium returns the headless browser the dashboard test drives. It
// fails, never skips: scripts/test installs the browser, so a missing one is
// a broken test machine, not an optional test.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("no headless browser: neither chromium nor chromium-browser is on PATH. " +
		"Run ./scripts/test, which installs it (apt-get install -y --no-install-recommends chromium)")
	return ""
}

// runChromium runs the browser headless on url with extra flags (--dump-dom
// or --screenshot) and returns what it printed on stdout.
func runChromium(t *testing.T, browser, url string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir(),
		"--virtual-time-budget=10000"}, extra...)
	cmd := exec.CommandContext(ctx, browser, append(args, url)...)
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstderr:\n%s", browser, err, stderr.String())
	}
	return stdout.String()
}

// dumpDOM loads the dashboard with tok in the URL fragment and returns the
// DOM once the page has settled.
func dumpDOM(t *testing.T, browser, base, tok string) string {
	t.Helper()
	url := base + "/dashboard"
	if tok != "" {
		url += "#token=" + tok
	}
	dom := runChromium(t, browser, url, "--dump-dom")
	if !strings.Contains(dom, `id="content"`) {
		t.Fatalf("the dumped DOM is not the dashboard:\n%s", dom)
	}
	return dom
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// text is an HTML fragment's text with tags removed and entities decoded.
func text(s string) string {
	return strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(s, " "))), " ")
}

// between returns dom from the first from up to the next to.
func between(t *testing.T, dom, from, to string) string {
	t.Helper()
	i := strings.Index(dom, from)
	if i < 0 {
		t.Fatalf("the DOM has no %s:\n%s", from, dom)
	}
	j := strings.Index(dom[i:], to)
	if j < 0 {
		t.Fatalf("the DOM has no %s after %s", to, from)
	}
	return dom[i : i+j]
}

func section(t *testing.T, dom, id string) string {
	t.Helper()
	return between(t, dom, `<section id="`+id+`"`, "</section>")
}

// row returns the table row (or article) tagged attr="id", or "" if none.
func row(dom, tag, attr, id string) string {
	m := regexp.MustCompile(`(?s)<` + tag + `[^>]* ` + attr + `="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</` + tag + `>`).FindStringSubmatch(dom)
	if m == nil {
		return ""
	}
	return m[1]
}

// field returns the text of the cell marked data-field=name in a row.
func field(t *testing.T, row, name string) string {
	t.Helper()
	for _, tag := range []string{"td", "span"} {
		m := regexp.MustCompile(`(?s)<` + tag + `[^>]* data-field="` + name + `"[^>]*>(.*?)</` + tag + `>`).FindStringSubmatch(row)
		if m != nil {
			return text(m[1])
		}
	}
	t.Fatalf("no field %s in row %s", name, row)
	return ""
}

func num(v any) string {
	f, _ := v.(float64)
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// TestDashboard serves the demo tenant and drives the dashboard in headless
// Chromium: what a global admin sees matches the API, a license admin sees
// products and requests with a permission message on the global-admin
// sections, a bad token asks for a new one, and data is shown as text.
func TestDashboard(t *testing.T) {
	browser := findChromium(t)
	svc, stop := startServe(t, t.TempDir(), "--demo")
	waitFor(t, 10*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	admin := token(t, "demo", "alice", "global-admin")
	licenseAdmin := token(t, "demo", "lara", "license-admin")

	// A claim, so the report has something to show, and a product whose
	// name is markup, which must reach the page as text.
	svc.do(t, "POST", "/v1/products", admin, map[string]any{
		"product_id": "evil", "name": `<img src=x id=xss onerror=alert(1)>Evil & Co</td>`, "services": []string{"x"},
		"licenses": 1, "self_service": "blocked",
	}).want(t, 201, "")
	r := svc.do(t, "POST", "/v1/signins", token(t, "demo", "edge", "ingest"), map[string]any{
		"id": "dash-signin-1", "user_id": "zoe", "app": "teams", "at": time.Now().UTC().Format(time.RFC3339),
	}).want(t, 200, "")
	after := "after=" + num(r.body["position"])
	var report map[string]any
	waitFor(t, 10*time.Second, "the claim in the report", func() bool {
		report = svc.do(t, "GET", "/v1/reports/claims?days=30&"+after, admin, nil).want(t, 200, "").body
		ps, _ := report["policies"].([]any)
		return len(ps) == 1 && ps[0].(map[string]any)["total"] == 1.0
	})
	products := svc.do(t, "GET", "/v1/products?"+after, admin, nil).want(t, 200, "").list
	policies := svc.do(t, "GET", "/v1/policies?"+after, admin, nil).want(t, 200, "").list
	if len(products) != 4 || len(policies) != 1 {
		t.Fatalf("demo data: products %v, policies %v", products, policies)
	}

	t.Run("assets", func(t *testing.T) {
		for _, path := range []string{"/dashboard", "/dashboard/app.js", "/dashboard/style.css", "/dashboard/icon.svg"} {
			res := svc.do(t, "GET", path, "", nil).want(t, 200, "")
			csp := res.header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
				t.Errorf("%s: Content-Security-Policy %q, want default-src 'self' and nothing unsafe", path, csp)
			}
			if !strings.HasSuffix(path, ".svg") && (strings.Contains(res.raw, "http://") || strings.Contains(res.raw, "https://")) {
				t.Errorf("%s refers to another origin; the dashboard must load nothing from elsewhere", path)
			}
		}
		if ct := svc.do(t, "GET", "/dashboard", "", nil).header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("/dashboard Content-Type %q", ct)
		}
		if ct := svc.do(t, "GET", "/dashboard/app.js", "", nil).header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
			t.Errorf("/dashboard/app.js Content-Type %q", ct)
		}
		js := svc.do(t, "GET", "/dashboard/app.js", "", nil).raw
		for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			if strings.Contains(js, sink) {
				t.Errorf("app.js uses %s; put API data in the page as text only", sink)
			}
		}
		page := svc.do(t, "GET", "/dashboard", "", nil).raw
		for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
			if !strings.Contains(tag, "src=") {
				t.Errorf("index.html has an inline script %s, which the CSP forbids", tag)
			}
		}
		if strings.Contains(page, "style=") || strings.Contains(page, "<style") {
			t.Errorf("index.html has inline style, which the CSP forbids")
		}
		svc.do(t, "GET", "/dashboard/nope.js", "", nil).want(t, 404, "not_found")
	})

	t.Run("global admin", func(t *testing.T) {
		dom := dumpDOM(t, browser, svc.base, admin)
		if !strings.Contains(dom, `<body data-state="ready">`) {
			t.Fatalf("the page did not finish loading:\n%s", dom)
		}
		if !strings.Contains(text(between(t, dom, `<span id="who-text">`, "</span>")), "tenant demo · user alice · roles global-admin") {
			t.Errorf("the header does not say who is signed in:\n%s", dom)
		}

		prod := section(t, dom, "products")
		for _, p := range products {
			p := p.(map[string]any)
			id := p["product_id"].(string)
			tr := row(prod, "tr", "data-product-id", id)
			if tr == "" {
				t.Errorf("product %s is not shown", id)
				continue
			}
			for _, f := range []string{"purchased", "assigned", "available"} {
				if got, want := field(t, tr, f), num(p[f]); got != want {
					t.Errorf("product %s %s: page shows %q, API says %s", id, f, got, want)
				}
			}
			if got := text(between(t, tr, `<span class="name">`, "</span>")); got != p["name"] {
				t.Errorf("product %s name: page shows %q, want %q", id, got, p["name"])
			}
		}
		// The demo's own numbers, as a reader of the page sees them.
		e3 := row(prod, "tr", "data-product-id", "e3")
		if got := []string{field(t, e3, "name"), field(t, e3, "purchased"), field(t, e3, "assigned"), field(t, e3, "available")}; strings.Join(got, "|") != "Office 365 E3 e3|50|3|47" {
			t.Errorf("e3 row: got %q, want Office 365 E3, 50 purchased, 3 assigned, 47 available", got)
		}
		for _, name := range []string{"Office 365 E5", "Visio Plan 2"} {
			if !strings.Contains(prod, name) {
				t.Errorf("products section lacks %q", name)
			}
		}
		if strings.Contains(dom, `id="xss"`) || strings.Contains(dom, `<img src="x"`) {
			t.Errorf("a product name was parsed as HTML:\n%s", prod)
		}
		if got := field(t, row(prod, "tr", "data-product-id", "evil"), "name"); got != `<img src=x id=xss onerror=alert(1)>Evil & Co</td> evil` {
			t.Errorf("the markup product's name shows as %q, want the literal text", got)
		}

		reqs := section(t, dom, "requests")
		pending := between(t, reqs, `id="requests-pending"`, `id="requests-completed"`)
		tr := row(pending, "tr", "data-request-id", "demo-request-1")
		if tr == "" || field(t, tr, "product") != "Office 365 E5" || field(t, tr, "requester") != "bob" ||
			field(t, tr, "users") != "bob, carol" || field(t, tr, "status") != "pending" {
			t.Errorf("pending requests do not show demo-request-1 (E5, bob for bob and carol):\n%s", pending)
		}
		completed := reqs[strings.Index(reqs, `id="requests-completed"`):]
		if tr := row(completed, "tr", "data-request-id", "demo-request-2"); tr == "" || field(t, tr, "status") != "approved" {
			t.Errorf("completed requests do not show demo-request-2 approved:\n%s", completed)
		}
		if row(completed, "tr", "data-request-id", "demo-request-1") != "" {
			t.Errorf("a pending request is listed as completed")
		}

		pol := section(t, dom, "policies")
		want := policies[0].(map[string]any)
		tr = row(pol, "tr", "data-policy-id", "demo-teams")
		if tr == "" {
			t.Fatalf("the demo policy is not shown:\n%s", pol)
		}
		if field(t, tr, "name") != "Teams users demo-teams" || field(t, tr, "app") != "teams" || field(t, tr, "enabled") != "enabled" {
			t.Errorf("policy row: %s", text(tr))
		}
		if got := field(t, tr, "available"); got != num(want["available"]) {
			t.Errorf("policy available seats: page %q, API %s", got, num(want["available"]))
		}
		if !strings.Contains(text(tr), "Office 365 E3 primary") || !strings.Contains(text(tr), "Office 365 E5") {
			t.Errorf("policy products (E3 primary, then E5) not shown: %s", text(tr))
		}

		rep := section(t, dom, "report")
		if !strings.Contains(rep, `data-days="30"`) {
			t.Errorf("the report is not for 30 days:\n%s", rep)
		}
		art := row(rep, "article", "data-policy-id", "demo-teams")
		if art == "" {
			t.Fatalf("the report does not show the demo policy:\n%s", rep)
		}
		if got := field(t, art, "total"); got != "1 claim" {
			t.Errorf("report total: got %q, want 1 claim", got)
		}
		if tr := row(art, "tr", "data-product-id", "e3"); !strings.Contains(text(tr), "Office 365 E3 (e3) 1") {
			t.Errorf("report by product: got %q, want Office 365 E3 (e3) 1", text(tr))
		}
		if !strings.Contains(art, `data-date="`+time.Now().UTC().Format(time.DateOnly)+`"`) {
			t.Errorf("report by day lacks today:\n%s", art)
		}
		if strings.Contains(dom, "notice forbidden") || strings.Contains(dom, "notice error") {
			t.Errorf("a global admin sees an error notice:\n%s", dom)
		}
	})

	t.Run("license admin", func(t *testing.T) {
		dom := dumpDOM(t, browser, svc.base, licenseAdmin)
		if !strings.Contains(dom, `<body data-state="ready">`) {
			t.Fatalf("the page did not finish loading:\n%s", dom)
		}
		for _, id := range []string{"policies", "report"} {
			sec := section(t, dom, id)
			if !strings.Contains(sec, `class="notice forbidden"`) ||
				!strings.Contains(text(sec), "No permission. Your token (roles: license-admin) is not allowed to see this section.") {
				t.Errorf("section %s does not explain the missing permission:\n%s", id, sec)
			}
			if strings.Contains(sec, "data-policy-id") {
				t.Errorf("section %s shows policy data to a license admin", id)
			}
		}
		prod := section(t, dom, "products")
		if e5 := row(prod, "tr", "data-product-id", "e5"); e5 == "" || field(t, e5, "purchased") != "25" || field(t, e5, "available") != "24" {
			t.Errorf("a license admin does not see E5 with 25 purchased and 24 available:\n%s", prod)
		}
		if strings.Contains(prod, "notice") {
			t.Errorf("products section shows a notice to a license admin:\n%s", prod)
		}
		if row(section(t, dom, "requests"), "tr", "data-request-id", "demo-request-1") == "" {
			t.Errorf("a license admin does not see the pending request")
		}
	})

	t.Run("bad token asks for a new one", func(t *testing.T) {
		other := "eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnQiOiJkZW1vIiwic3ViIjoieCIsInJvbGVzIjpbImdsb2JhbC1hZG1pbiJdfQ.c2lnbmVk"
		dom := dumpDOM(t, browser, svc.base, other)
		if !strings.Contains(dom, `<body data-state="login">`) || !strings.Contains(dom, `<section id="login" class="card">`) ||
			!strings.Contains(dom, `<div id="content" hidden="">`) {
			t.Fatalf("a rejected token does not bring back the token form:\n%s", dom)
		}
		if msg := text(between(t, dom, `<p id="login-message"`, "</p>")); !strings.Contains(msg, "rejected this token") {
			t.Errorf("login message %q does not say the token was rejected", msg)
		}
		dom = dumpDOM(t, browser, svc.base, "")
		if !strings.Contains(dom, `<body data-state="login">`) || !strings.Contains(dom, `<textarea id="token-input"`) {
			t.Errorf("without a token the page does not ask for one:\n%s", dom)
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		// SEATFLOW_DASHBOARD_SCREENSHOT keeps the picture for a human to
		// look at; by default it goes to a temporary directory.
		file := os.Getenv("SEATFLOW_DASHBOARD_SCREENSHOT")
		if file == "" {
			file = filepath.Join(t.TempDir(), "dashboard.png")
		}
		file, err := filepath.Abs(file)
		if err != nil {
			t.Fatal(err)
		}
		runChromium(t, browser, svc.base+"/dashboard#token="+admin, "--screenshot="+file, "--window-size=1280,900")
		f, err := os.Open(file)
		if err != nil {
			t.Fatalf("no screenshot: %v", err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 900 {
			t.Errorf("screenshot is %v, want 1280x900", b)
		}
		if n := colours(img); n < 8 {
			t.Errorf("screenshot has %d colours; the page looks blank", n)
		}
		t.Logf("screenshot: %s", file)
	})
	stop()
}

// colours counts an image's distinct colours, up to 1000.
func colours(img image.Image) int {
	seen := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}] = true
			if len(seen) >= 1000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}
