package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/seatflow/seatflow/infra/oidc/oidctest"
)

// freePort is a loopback port nothing listens on right now, for a service
// whose public URL must be known before it starts.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// cookies are the browser's cookies for url.
func (p *page) cookies(url string) []*network.Cookie {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		p.t.Fatalf("read cookies: %v", err)
	}
	return res.Cookies
}

func (p *page) cookie(url, name string) *network.Cookie {
	p.t.Helper()
	for _, c := range p.cookies(url) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// evalAwait evaluates expr and waits for the promise it gives.
func (p *page) evalAwait(expr string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, func(e *runtime.EvaluateParams) {
		yes := true
		e.AwaitPromise = &yes
	}))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// TestConsoleOrganisationSignIn signs in to the console through an OpenID
// Connect provider (mockoidc, authorization code with PKCE) in headless
// Chromium: the provider is on 127.0.0.1 and the console on localhost, so
// the way back is a cross-site redirect, as with a real provider. An admin
// (mapped from the groups claim) sees the admin pages and writes with the
// session's CSRF token; the same write without it is refused; signing out
// revokes the session on the server; a plain user sees only their pages; a
// tampered cookie is refused. Bearer tokens keep working beside it.
func TestConsoleOrganisationSignIn(t *testing.T) {
	idp := oidctest.Start(t)
	port := freePort(t)
	public := "http://localhost:" + port
	svc, _ := startServe(t, t.TempDir(), "--http", "127.0.0.1:"+port, "--public-url", public,
		"--oidc-issuer", idp.Issuer(), "--oidc-client-id", idp.ClientID(), "--oidc-client-secret", idp.ClientSecret(),
		"--oidc-tenant", "contoso", "--oidc-user-claim", "email",
		"--oidc-role-map", "seatflow-admins=global-admin,license-desk=license-admin")
	waitFor(t, 30*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	if !strings.Contains(svc.logs.String(), `"msg":"organisation sign-in"`) || !strings.Contains(svc.logs.String(), `"redirect_uri":"`+public+`/console/callback"`) {
		t.Errorf("serve does not log the sign-in and its redirect URI:\n%s", svc.logs.String())
	}
	admin := token(t, "contoso", "root", "global-admin")
	for id, email := range map[string]string{"ada": "ada.lovelace@example.com", "u1": "u1@example.com"} {
		svc.do(t, "PUT", "/v1/users/"+id, admin, map[string]any{"email": email, "display_name": "User " + id}).want(t, 200, "")
	}
	svc.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": "e5", "name": "Office 365 E5",
		"services": []string{"mail"}, "licenses": 3, "self_service": "blocked"}).want(t, 201, "")
	pos := svc.do(t, "GET", "/v1/settings/auto-claim", admin, nil).want(t, 200, "")
	if pos.body["enabled"] != false {
		t.Fatalf("auto-claim starts %v", pos.body)
	}

	browser := startBrowser(t)
	p := newPage(t, browser, public)

	// The sign-in page offers the organisation; the token form waits behind
	// a link.
	p.open("/console")
	orgLink := "//a[normalize-space()='Sign in with your organisation']"
	p.waitVisible(orgLink)
	if got := p.eval(`document.getElementById("token-login").hidden ? "hidden" : "shown"`); got != "hidden" {
		t.Errorf("the bearer token form is %s while organisation sign-in is on", got)
	}
	if got := p.eval(`document.activeElement.textContent`); got != "Sign in with your organisation" {
		t.Errorf("the focus is on %q, want the organisation sign-in", got)
	}
	p.shot("console-signin-organisation")

	// An admin signs in by clicking; the groups claim maps to global-admin,
	// the e-mail address to the directory user ada.
	idp.Queue("00u-ada", map[string]any{"email": "ada.lovelace@example.com", "groups": []string{"everyone", "seatflow-admins"}})
	p.click(orgLink)
	p.ready()
	p.waitVisible("//h1[normalize-space()='Requests']")
	if got := p.text("//span[@id='who-text']"); got != "ada · organisation contoso · global-admin, user" {
		t.Errorf("signed in as %q", got)
	}
	if got := p.eval(`[...document.querySelectorAll("nav a")].map((a) => a.textContent).join(", ")`); !strings.Contains(got, "Requests, Licenses, Auto-claim policy") {
		t.Errorf("an admin's navigation: %q", got)
	}
	p.shot("console-signed-in-organisation")
	ck := p.cookie(public, "seatflow-session")
	if ck == nil {
		t.Fatalf("no session cookie; the browser has %v", p.cookies(public))
	}
	if !ck.HTTPOnly || ck.SameSite != network.CookieSameSiteStrict || ck.Path != "/" || ck.Secure {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, path /, not Secure on a loopback http URL", ck)
	}
	if got := p.eval(`document.cookie`); got != "" {
		t.Errorf("scripts can read cookies: %q", got)
	}
	if p.cookie(public, "seatflow-login") != nil {
		t.Errorf("the sign-in state cookie outlived the sign-in")
	}
	session := ck.Value
	cookie := func(v string) []string { return []string{"Cookie", "seatflow-session=" + v} }

	// A write through the console carries the CSRF token and succeeds.
	p.nav("Auto-claim policy")
	p.click(button("Turn on setting"))
	p.waitVisible("//span[@data-field='setting' and normalize-space()='On']")
	if s := svc.do(t, "GET", "/v1/settings/auto-claim", admin, nil).want(t, 200, "").body; s["enabled"] != true {
		t.Fatalf("auto-claim after the console's write: %v", s)
	}
	// The same write without it, from the page and from a Go client with
	// the cookie, is refused with a problem.
	got := p.evalAwait(`fetch("/v1/settings/auto-claim", {method: "PUT", credentials: "same-origin",
		headers: {"Content-Type": "application/json"}, body: JSON.stringify({enabled: false})})
		.then(async (r) => r.status + " " + r.headers.get("Content-Type") + " " + (await r.json()).code)`)
	if got != "403 application/problem+json invalid_csrf_token" {
		t.Errorf("a write from the page without the CSRF token: %q", got)
	}
	svc.do(t, "PUT", "/v1/settings/auto-claim", "", map[string]any{"enabled": false}, cookie(session)...).want(t, 403, "invalid_csrf_token")
	var info struct {
		CSRF string `json:"csrf_token"`
	}
	r := svc.do(t, "GET", "/console/session", "", nil, cookie(session)...).want(t, 200, "")
	info.CSRF, _ = r.body["csrf_token"].(string)
	if r.body["user_id"] != "ada" || r.body["tenant"] != "contoso" || info.CSRF == "" {
		t.Fatalf("GET /console/session: %s", r.raw)
	}
	svc.do(t, "PUT", "/v1/settings/auto-claim", "", map[string]any{"enabled": true}, append(cookie(session), "Seatflow-CSRF-Token", info.CSRF)...).want(t, 200, "")
	if s := svc.do(t, "GET", "/v1/settings/auto-claim", admin, nil).want(t, 200, "").body; s["enabled"] != true {
		t.Fatalf("a refused write changed the setting: %v", s)
	}
	svc.do(t, "GET", "/v1/products", "", nil, cookie(session)...).want(t, 200, "")

	// Signing out revokes the session on the server: the copied cookie no
	// longer works.
	p.click(button("Sign out"))
	p.waitVisible("//body[@data-state='login']")
	if got := p.text("//p[@id='login-message']"); got != "You have signed out." {
		t.Errorf("after signing out the page says %q", got)
	}
	if p.cookie(public, "seatflow-session") != nil {
		t.Errorf("the browser kept the session cookie after signing out")
	}
	p2 := svc.do(t, "GET", "/v1/products", "", nil, cookie(session)...).want(t, 401, "unauthorized")
	if detail, _ := p2.body["detail"].(string); !strings.Contains(detail, "revoked") {
		t.Errorf("the signed-out cookie is refused with %q", detail)
	}
	p.open("/console")
	p.waitVisible(orgLink)

	// A plain user signs in: only their own pages.
	idp.Queue("00u-u1", map[string]any{"email": "u1@example.com", "groups": []string{"everyone"}})
	p.click(orgLink)
	p.ready()
	if got := p.eval(`[...document.querySelectorAll("nav a")].map((a) => a.textContent).join(", ")`); got != "Request a license, My requests, My licenses" {
		t.Errorf("a plain user's navigation: %q", got)
	}
	if got := p.text("//span[@id='who-text']"); got != "u1 · organisation contoso · user" {
		t.Errorf("signed in as %q", got)
	}
	p.open("/console#/requests")
	p.ready()
	p.waitVisible("//div[contains(@class,'notice') and contains(@class,'forbidden')]")
	if n := p.count("//table"); n != 0 {
		t.Errorf("a plain user sees %d admin tables", n)
	}
	user := p.cookie(public, "seatflow-session")
	if user == nil {
		t.Fatal("no session cookie for the user")
	}
	svc.do(t, "GET", "/v1/products", "", nil, cookie(user.Value)...).want(t, 403, "forbidden")
	// The user's request goes through the console with the CSRF token.
	p.nav("Request a license")
	p.choose(labelled("Select a product"), "Office 365 E5")
	p.typeInto(labelled("Justification"), "Signed in with the organisation")
	p.click(button("Submit"))
	p.waitVisible(withText("div", "Request sent."))
	if l := svc.do(t, "GET", "/v1/requests?status=pending", admin, nil).want(t, 200, "").list; len(l) != 1 || l[0].(map[string]any)["requester"] != "u1" {
		t.Errorf("pending requests after the user's submit: %v", l)
	}

	// A tampered cookie is refused: by the API, and the console asks to
	// sign in again.
	v := user.Value
	flip := "A"
	if v[len(v)-5:len(v)-4] == "A" {
		flip = "B"
	}
	tampered := v[:len(v)-5] + flip + v[len(v)-4:]
	svc.do(t, "GET", "/v1/requests", "", nil, cookie(tampered)...).want(t, 401, "unauthorized")
	svc.do(t, "GET", "/console/session", "", nil, cookie(tampered)...).want(t, 401, "unauthorized")
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: "seatflow-session", Value: tampered, URL: public + "/",
		Path: "/", HTTPOnly: &[]bool{true}[0], SameSite: network.CookieSameSiteStrict})
	cancel()
	if err != nil {
		t.Fatalf("set the tampered cookie: %v", err)
	}
	p.open("/console")
	p.waitVisible("//body[@data-state='login']")
	if got := p.text("//p[@id='login-message']"); got != "Your session has ended. Sign in again." {
		t.Errorf("with a tampered cookie the page says %q", got)
	}

	// Bearer tokens work as before.
	svc.do(t, "GET", "/v1/requests", admin, nil, cookie(tampered)...).want(t, 200, "")
}

// TestConsoleSignInFailureIsExplained: a provider that refuses sends the
// browser back to a console that says why.
func TestConsoleSignInFailureIsExplained(t *testing.T) {
	idp := oidctest.Start(t)
	svc, _ := startServe(t, t.TempDir(), "--oidc-issuer", idp.Issuer(), "--oidc-client-id", idp.ClientID(),
		"--oidc-client-secret", idp.ClientSecret(), "--oidc-tenant-claim", "org")
	browser := startBrowser(t)
	p := newPage(t, browser, svc.base)
	p.open("/console")
	// The provider signs in someone whose token names no tenant.
	idp.Queue("00u-x", map[string]any{"email": "x@example.com"})
	p.click("//a[normalize-space()='Sign in with your organisation']")
	p.waitVisible("//body[@data-state='login']")
	p.waitVisible("//p[@id='login-message' and not(@hidden)]")
	if got := p.text("//p[@id='login-message']"); !strings.Contains(got, "your account is not set up for Seatflow") {
		t.Errorf("an unmapped sign-in: the page says %q", got)
	}
	p.shot("console-signin-failed")
	if got := p.eval(`location.search`); got != "" {
		t.Errorf("the reason stays in the address: %q", got)
	}
	if !strings.Contains(svc.logs.String(), `no claim \"org\"`) {
		t.Errorf("the log does not say which claim was missing:\n%s", svc.logs.String())
	}
}

// TestConsoleWithoutOIDC: without --oidc-issuer the sign-in routes are
// absent and the console asks for a token as before.
func TestConsoleWithoutOIDC(t *testing.T) {
	svc, _ := startServe(t, t.TempDir())
	svc.do(t, "GET", "/console/login", "", nil).want(t, 404, "not_found")
	svc.do(t, "GET", "/console/session", "", nil).want(t, 404, "not_found")
	browser := startBrowser(t)
	p := newPage(t, browser, svc.base)
	p.open("/console")
	p.waitVisible(labelled("Bearer token"))
	if n := p.count("//a[normalize-space()='Sign in with your organisation' and not(ancestor::*[@hidden])]"); n != 0 {
		t.Errorf("the organisation sign-in shows without --oidc-issuer")
	}
}

func TestOIDCBadConfig(t *testing.T) {
	issuer := []string{"--oidc-issuer", "https://login.example.com/t/v2.0", "--oidc-client-id", "app"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"client id without issuer", []string{"--oidc-client-id", "app"}, "need --oidc-issuer"},
		{"no tenant", issuer, "the tenant is needed"},
		{"tenant and claim", append(issuer, "--oidc-tenant", "acme", "--oidc-tenant-claim", "org"), "exclude each other"},
		{"no client id", []string{"--oidc-issuer", "https://login.example.com/t/v2.0", "--oidc-tenant", "acme"}, "client id is required"},
		{"http issuer", []string{"--oidc-issuer", "http://login.example.com", "--oidc-client-id", "app", "--oidc-tenant", "acme"}, "must be https"},
		{"bad role", append(issuer, "--oidc-tenant", "acme", "--oidc-role-map", "admins=root"), `role "root" is not one of`},
		{"machine role", append(issuer, "--oidc-tenant", "acme", "--oidc-role-map", "robots=ingest"), `role "ingest"`},
		{"http public URL", append(issuer, "--oidc-tenant", "acme", "--public-url", "http://seatflow.example.com"), "needs an https --public-url"},
		{"no public URL off loopback", append(issuer, "--oidc-tenant", "acme", "--http", "0.0.0.0:8080"), "needs --public-url"},
		{"session longer than tokens", append(issuer, "--oidc-tenant", "acme", "--oidc-session-ttl", "1000h"), "--oidc-session-ttl"},
		{"no openid scope", append(issuer, "--oidc-tenant", "acme", "--oidc-scopes", "profile,email"), `lack "openid"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			args := append([]string{"serve", "--data-dir", t.TempDir()}, tt.args...)
			code := Main(context.Background(), args, io.Discard, &stderr, func(string) string { return "" })
			out := strings.TrimSpace(stderr.String())
			if code != 2 || strings.Count(out, "\n") != 0 || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and one line mentioning %q", code, out, tt.want)
			}
		})
	}
}
