package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/httpapi"
)

// fakeSignIn is an identity provider that answers at once: Begin hands out
// a fixed state, Finish the principal queued for a code.
type fakeSignIn struct {
	mu        sync.Mutex
	beginErr  error
	principal map[string]auth.Claims
	finishErr map[string]error
	finished  []auth.LoginState
}

func (f *fakeSignIn) Begin(context.Context) (string, auth.LoginState, error) {
	if f.beginErr != nil {
		return "", auth.LoginState{}, f.beginErr
	}
	return "https://idp.example/authorize?state=st-1", auth.LoginState{State: "st-1", Nonce: "n-1", Verifier: "v-1"}, nil
}

func (f *fakeSignIn) Finish(_ context.Context, code string, st auth.LoginState) (auth.Claims, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finished = append(f.finished, st)
	if err := f.finishErr[code]; err != nil {
		return auth.Claims{}, err
	}
	c, ok := f.principal[code]
	if !ok {
		return auth.Claims{}, errors.New("invalid_grant")
	}
	return c, nil
}

// sessionEnv is an API with organisation sign-in whose sign-out revokes
// into an in-memory set, and whose clock the test moves.
type sessionEnv struct {
	*env
	idp     *fakeSignIn
	revoked *sync.Map
	clock   *time.Time
	tokens  *auth.Issuer
}

func newSessionEnv(t *testing.T, secure bool) *sessionEnv {
	t.Helper()
	idp := &fakeSignIn{principal: map[string]auth.Claims{
		"code-lia": {Tenant: tenant, Subject: "lia", Roles: []string{auth.RoleLicenseAdmin, auth.RoleUser}},
		"code-ug":  {Tenant: tenant, Subject: "ug", Roles: []string{auth.RoleUser}},
	}, finishErr: map[string]error{
		"code-unmapped": errors.Join(auth.ErrUnmapped, errors.New(`no claim "org"`)),
		"code-broken":   errors.New("verify the ID token: bad signature"),
	}}
	revoked := &sync.Map{}
	clock := now
	keys, err := auth.NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.New(auth.Config{Keys: keys, Revoked: func(c auth.Claims) error {
		if _, ok := revoked.Load(c.ID); ok {
			return auth.ErrRevoked
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *httpapi.Config, _ *domain.Config) {
		c.Tokens = tokens
		c.Now = func() time.Time { return clock }
		c.Console = &httpapi.ConsoleConfig{SignIn: idp, Secure: secure, SessionTTL: 8 * time.Hour,
			Revoke: func(_ context.Context, c auth.Claims) error {
				revoked.Store(c.ID, true)
				return nil
			}}
	})
	e.tokens = tokens
	return &sessionEnv{env: e, idp: idp, revoked: revoked, clock: &clock, tokens: tokens}
}

// cookieOf returns the Set-Cookie of r named name.
func cookieOf(t *testing.T, r response, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no Set-Cookie %s in %v", name, r.header.Values("Set-Cookie"))
	return nil
}

// signIn runs the login and callback with code and returns the session
// cookie's value.
func (e *sessionEnv) signIn(t *testing.T, code string) string {
	t.Helper()
	login := e.do("GET", "/console/login", "", "").mustStatus(t, http.StatusSeeOther)
	lc := cookieOf(t, login, httpapi.LoginCookie)
	cb := e.do("GET", "/console/callback?code="+code+"&state=st-1", "", "", "Cookie", lc.Name+"="+lc.Value).mustStatus(t, http.StatusSeeOther)
	if loc := cb.header.Get("Location"); loc != "/console" {
		t.Fatalf("the callback sent the browser to %q, want /console", loc)
	}
	return cookieOf(t, cb, httpapi.SessionCookie).Value
}

func withCookie(v string, more ...string) []string {
	return append([]string{"Cookie", httpapi.SessionCookie + "=" + v}, more...)
}

func TestSignInRoutesAbsentWithoutOIDC(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/console/login", "", "").problem(t, http.StatusNotFound, httpapi.CodeNotFound)
	e.do("GET", "/console/callback?code=x&state=y", "", "").problem(t, http.StatusNotFound, httpapi.CodeNotFound)
	e.do("GET", "/console/session", "", "").problem(t, http.StatusNotFound, httpapi.CodeNotFound)
	if r := e.do("POST", "/console/logout", "", ""); r.status != http.StatusMethodNotAllowed && r.status != http.StatusNotFound {
		t.Errorf("POST /console/logout without OIDC: %d", r.status)
	}
	// A genuine session is no credential where sign-in is off.
	tok, _, err := e.tokens.IssueSession(auth.Claims{Tenant: tenant, Subject: "root", Roles: []string{auth.RoleGlobalAdmin}}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/v1/products", "", "", withCookie(tok)...).problem(t, http.StatusUnauthorized, httpapi.CodeUnauthorized)
	e.do("GET", "/console", "", "").mustStatus(t, http.StatusOK)
}

func TestSignInSetsCookies(t *testing.T) {
	e := newSessionEnv(t, false)
	login := e.do("GET", "/console/login", "", "").mustStatus(t, http.StatusSeeOther)
	if loc := login.header.Get("Location"); loc != "https://idp.example/authorize?state=st-1" {
		t.Errorf("login sends the browser to %q", loc)
	}
	if cc := login.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("login Cache-Control %q", cc)
	}
	lc := cookieOf(t, login, httpapi.LoginCookie)
	if !lc.HttpOnly || lc.Secure || lc.SameSite != http.SameSiteLaxMode || lc.Path != "/console/callback" || lc.MaxAge != 600 {
		t.Errorf("login cookie %+v: want HttpOnly, SameSite=Lax, path /console/callback, 10 minutes", lc)
	}
	st, err := e.tokens.VerifyLogin(lc.Value, now)
	if err != nil || st.State != "st-1" || st.Verifier != "v-1" {
		t.Fatalf("the login cookie holds %+v, %v", st, err)
	}

	cb := e.do("GET", "/console/callback?code=code-lia&state=st-1", "", "", "Cookie", lc.Name+"="+lc.Value).mustStatus(t, http.StatusSeeOther)
	if got := e.idp.finished; len(got) != 1 || got[0] != st {
		t.Errorf("Finish got %+v, want the cookie's state", got)
	}
	sc := cookieOf(t, cb, httpapi.SessionCookie)
	if !sc.HttpOnly || sc.Secure || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/" || sc.MaxAge != 8*3600 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, path /, 8 hours", sc)
	}
	if gone := cookieOf(t, cb, httpapi.LoginCookie); gone.MaxAge >= 0 {
		t.Errorf("the callback kept the login cookie: %+v", gone)
	}
	s, err := e.tokens.VerifySession(sc.Value, now)
	if err != nil || s.Tenant != tenant || s.Subject != "lia" || !slices.Equal(s.Roles, []string{"license-admin", "user"}) {
		t.Fatalf("the session cookie holds %+v, %v", s, err)
	}
	if _, err := e.tokens.Verify(sc.Value, now); err == nil {
		t.Errorf("the session cookie works as a bearer token")
	}
	e.do("GET", "/v1/products", sc.Value, "").problem(t, http.StatusUnauthorized, httpapi.CodeUnauthorized)
}

func TestSignInSecureCookies(t *testing.T) {
	e := newSessionEnv(t, true)
	login := e.do("GET", "/console/login", "", "").mustStatus(t, http.StatusSeeOther)
	lc := cookieOf(t, login, httpapi.SecureLoginCookie)
	if !lc.Secure {
		t.Errorf("login cookie over https is not Secure: %+v", lc)
	}
	cb := e.do("GET", "/console/callback?code=code-lia&state=st-1", "", "", "Cookie", lc.Name+"="+lc.Value).mustStatus(t, http.StatusSeeOther)
	sc := cookieOf(t, cb, httpapi.SecureSessionCookie)
	if !sc.Secure || sc.Path != "/" || sc.Domain != "" {
		t.Errorf("session cookie over https %+v: want Secure, path /, no domain (the __Host- rules)", sc)
	}
	// Only the configured name counts.
	e.do("GET", "/v1/products", "", "", withCookie(sc.Value)...).problem(t, http.StatusUnauthorized, httpapi.CodeUnauthorized)
	r := e.do("GET", "/v1/products", "", "", "Cookie", httpapi.SecureSessionCookie+"="+sc.Value)
	r.mustStatus(t, http.StatusOK)
}

func TestSignInFailures(t *testing.T) {
	e := newSessionEnv(t, false)
	login := e.do("GET", "/console/login", "", "").mustStatus(t, http.StatusSeeOther)
	lc := cookieOf(t, login, httpapi.LoginCookie)
	good := "Cookie"
	forged, err := auth.NewIssuer([]byte("another-secret-another-secret-xx"))
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := forged.IssueLogin(auth.LoginState{State: "st-1", Nonce: "n", Verifier: "v"}, time.Minute, now)
	cases := []struct {
		name, query, cookie, reason string
	}{
		{"provider refused", "error=access_denied&error_description=User+not+assigned&state=st-1", lc.Value, httpapi.SignInDenied},
		{"no login cookie", "code=code-lia&state=st-1", "", httpapi.SignInExpired},
		{"another state", "code=code-lia&state=st-2", lc.Value, httpapi.SignInExpired},
		{"no state", "code=code-lia", lc.Value, httpapi.SignInExpired},
		{"login cookie of another key", "code=code-lia&state=st-1", foreign, httpapi.SignInExpired},
		{"tampered login cookie", "code=code-lia&state=st-1", lc.Value + "x", httpapi.SignInExpired},
		{"no code", "state=st-1", lc.Value, httpapi.SignInProvider},
		{"code refused", "code=code-unknown&state=st-1", lc.Value, httpapi.SignInProvider},
		{"token broken", "code=code-broken&state=st-1", lc.Value, httpapi.SignInProvider},
		{"claims do not map", "code=code-unmapped&state=st-1", lc.Value, httpapi.SignInNotMapped},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.cookie != "" {
				hdr = []string{good, httpapi.LoginCookie + "=" + tc.cookie}
			}
			r := e.do("GET", "/console/callback?"+tc.query, "", "", hdr...).mustStatus(t, http.StatusSeeOther)
			if loc := r.header.Get("Location"); loc != "/console?signin_error="+tc.reason {
				t.Errorf("sent to %q, want /console?signin_error=%s", loc, tc.reason)
			}
			for _, c := range (&http.Response{Header: r.header}).Cookies() {
				if c.Name == httpapi.SessionCookie {
					t.Errorf("a failed sign-in set a session cookie")
				}
			}
			if !strings.Contains(e.logs.String(), `"reason":"`+tc.reason+`"`) {
				t.Errorf("the log does not say why")
			}
		})
	}
	// The login cookie expires after 10 minutes.
	*e.clock = now.Add(httpapi.LoginTTL)
	r := e.do("GET", "/console/callback?code=code-lia&state=st-1", "", "", good, httpapi.LoginCookie+"="+lc.Value)
	if loc := r.header.Get("Location"); loc != "/console?signin_error=expired" {
		t.Errorf("a sign-in after 10 minutes: sent to %q", loc)
	}
	e.idp.beginErr = errors.New("discover: connection refused")
	r = e.do("GET", "/console/login", "", "").mustStatus(t, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != "/console?signin_error=unavailable" {
		t.Errorf("login with the provider down: sent to %q", loc)
	}
}

func TestSessionEndpoint(t *testing.T) {
	e := newSessionEnv(t, false)
	var info struct {
		SignedIn  bool      `json:"signed_in"`
		LoginURL  string    `json:"login_url"`
		Tenant    string    `json:"tenant"`
		UserID    string    `json:"user_id"`
		Roles     []string  `json:"roles"`
		CSRFToken string    `json:"csrf_token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	e.do("GET", "/console/session", "", "").mustStatus(t, http.StatusOK).decode(t, &info)
	if info.SignedIn || info.LoginURL != "/console/login" || info.CSRFToken != "" {
		t.Errorf("without a cookie: %+v", info)
	}
	v := e.signIn(t, "code-lia")
	r := e.do("GET", "/console/session", "", "", withCookie(v)...).mustStatus(t, http.StatusOK)
	r.decode(t, &info)
	s, _ := e.tokens.VerifySession(v, now)
	if !info.SignedIn || info.Tenant != tenant || info.UserID != "lia" || !slices.Equal(info.Roles, []string{"license-admin", "user"}) ||
		info.CSRFToken != s.CSRF || !info.ExpiresAt.Equal(now.Add(8*time.Hour)) {
		t.Errorf("signed in: %+v", info)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	r = e.do("GET", "/console/session", "", "", withCookie(v[:len(v)-2]+"xx")...)
	r.problem(t, http.StatusUnauthorized, httpapi.CodeUnauthorized)
	if c := cookieOf(t, r, httpapi.SessionCookie); c.MaxAge >= 0 {
		t.Errorf("a refused cookie is not cleared: %+v", c)
	}
}

func TestSessionCookieAuthenticatesWithCSRF(t *testing.T) {
	e := newSessionEnv(t, false)
	lia := e.signIn(t, "code-lia")
	s, _ := e.tokens.VerifySession(lia, now)
	product := `{"product_id":"e3","name":"E3","services":["mail"],"licenses":2,"self_service":"blocked"}`

	e.do("GET", "/v1/products", "", "", withCookie(lia)...).mustStatus(t, http.StatusOK)
	p := e.do("POST", "/v1/products", "", product, withCookie(lia)...).problem(t, http.StatusForbidden, httpapi.CodeInvalidCSRFToken)
	if !strings.Contains(p.Detail, httpapi.HeaderCSRFToken) {
		t.Errorf("the refusal does not say what is missing: %q", p.Detail)
	}
	e.do("POST", "/v1/products", "", product, withCookie(lia, httpapi.HeaderCSRFToken, "wrong")...).problem(t, http.StatusForbidden, httpapi.CodeInvalidCSRFToken)
	ug := e.signIn(t, "code-ug")
	other, _ := e.tokens.VerifySession(ug, now)
	e.do("POST", "/v1/products", "", product, withCookie(lia, httpapi.HeaderCSRFToken, other.CSRF)...).problem(t, http.StatusForbidden, httpapi.CodeInvalidCSRFToken)
	// From a page of another site, even with the token.
	e.do("POST", "/v1/products", "", product, withCookie(lia, httpapi.HeaderCSRFToken, s.CSRF, "Sec-Fetch-Site", "cross-site")...).
		problem(t, http.StatusForbidden, httpapi.CodeInvalidCSRFToken)
	e.do("POST", "/v1/products", "", product, withCookie(lia, httpapi.HeaderCSRFToken, s.CSRF, "Origin", "https://evil.example")...).
		problem(t, http.StatusForbidden, httpapi.CodeInvalidCSRFToken)
	if n := e.store.count(); n != 0 {
		t.Fatalf("refused writes appended %d times", n)
	}
	r := e.do("POST", "/v1/products", "", product, withCookie(lia, httpapi.HeaderCSRFToken, s.CSRF, "Sec-Fetch-Site", "same-origin")...)
	r.mustStatus(t, http.StatusCreated)
	if ev := e.store.lastEvent(); ev.Actor != "lia" {
		t.Errorf("the event's actor is %q, want the session's user", ev.Actor)
	}
	// The session's roles decide, as a token's would.
	e.do("POST", "/v1/products/e3/licenses", "", `{"add":1}`, withCookie(ug, httpapi.HeaderCSRFToken, other.CSRF)...).
		problem(t, http.StatusForbidden, httpapi.CodeForbidden)
	// A bearer token wins over a cookie, and needs no CSRF token.
	e.do("POST", "/v1/products/e3/licenses", e.admin(), `{"add":1}`, withCookie(ug)...).mustStatus(t, http.StatusOK)
	// The cookie expires with the session.
	*e.clock = now.Add(8 * time.Hour)
	p = e.do("GET", "/v1/products", "", "", withCookie(lia)...).problem(t, http.StatusUnauthorized, httpapi.CodeUnauthorized)
	if !strings.Contains(p.Detail, "expired") {
		t.Errorf("an expired session: %q", p.Detail)
	}
}

func TestSignOut(t *testing.T) {
	e := newSessionEnv(t, false)
	lia := e.signIn(t, "code-lia")
	s, _ := e.tokens.VerifySession(lia, now)

	e.do("POST", "/console/logout", "", "", withCookie(lia)...).problem(t, http.StatusForbidden, httpapi.CodeInvalidCSRFToken)
	if _, ok := e.revoked.Load(s.ID); ok {
		t.Fatal("a sign-out without the CSRF token revoked the session")
	}
	e.do("GET", "/v1/products", "", "", withCookie(lia)...).mustStatus(t, http.StatusOK)
	r := e.do("POST", "/console/logout", "", "", withCookie(lia, httpapi.HeaderCSRFToken, s.CSRF)...).mustStatus(t, http.StatusNoContent)
	if c := cookieOf(t, r, httpapi.SessionCookie); c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("sign-out left the cookie: %+v", c)
	}
	if _, ok := e.revoked.Load(s.ID); !ok {
		t.Fatal("sign-out did not revoke the session's jti")
	}
	p := e.do("GET", "/v1/products", "", "", withCookie(lia)...).problem(t, http.StatusUnauthorized, httpapi.CodeUnauthorized)
	if !strings.Contains(p.Detail, "revoked") {
		t.Errorf("a signed-out session: %q", p.Detail)
	}
	e.do("GET", "/console/session", "", "", withCookie(lia)...).problem(t, http.StatusUnauthorized, httpapi.CodeUnauthorized)
	// Signing out again, or without a session, only clears the cookie.
	e.do("POST", "/console/logout", "", "", withCookie(lia, httpapi.HeaderCSRFToken, s.CSRF)...).mustStatus(t, http.StatusNoContent)
	e.do("POST", "/console/logout", "", "").mustStatus(t, http.StatusNoContent)
}

func TestSignOutKeepsTheCookieWhenRevocationFails(t *testing.T) {
	e := newSessionEnv(t, false)
	lia := e.signIn(t, "code-lia")
	s, _ := e.tokens.VerifySession(lia, now)
	e.srv = mustNew(t, e, func(c *httpapi.ConsoleConfig) {
		c.Revoke = func(context.Context, auth.Claims) error { return errors.New("nats: timeout") }
	})
	r := e.do("POST", "/console/logout", "", "", withCookie(lia, httpapi.HeaderCSRFToken, s.CSRF)...)
	r.problem(t, http.StatusServiceUnavailable, httpapi.CodeUnavailable)
	if len(r.header.Values("Set-Cookie")) != 0 {
		t.Errorf("a failed sign-out changed the cookie: %v", r.header.Values("Set-Cookie"))
	}
}

// mustNew rebuilds e's server with its console config changed by mod.
func mustNew(t *testing.T, e *sessionEnv, mod func(*httpapi.ConsoleConfig)) *httpapi.Server {
	t.Helper()
	cc := httpapi.ConsoleConfig{SignIn: e.idp}
	mod(&cc)
	srv, err := httpapi.New(httpapi.Config{Commands: e.svc, Products: stubProducts{}, Licenses: stubLicenses{}, Progress: e.progress,
		Tokens: e.tokens, NewID: func() string { return "id" }, Now: func() time.Time { return *e.clock }, Console: &cc})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestConsoleConfigValidated(t *testing.T) {
	iss, _ := auth.NewIssuer(secret)
	base := httpapi.Config{Commands: stubCommands{}, Products: stubProducts{}, Licenses: stubLicenses{}, Progress: stubProgress{},
		Tokens: iss, NewID: func() string { return "id" }}
	for name, cc := range map[string]httpapi.ConsoleConfig{
		"no sign-in":          {},
		"ttl above token max": {SignIn: &fakeSignIn{}, SessionTTL: auth.DefaultMaxTTL + time.Hour},
		"bad trusted origin":  {SignIn: &fakeSignIn{}, TrustedOrigins: []string{"not an origin"}},
	} {
		cfg := base
		cfg.Console = &cc
		if _, err := httpapi.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
