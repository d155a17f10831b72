package oidc_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/oidc"
	"github.com/seatflow/seatflow/infra/oidc/oidctest"
)

const redirect = "http://127.0.0.1:8080/console/callback"

func newClient(t *testing.T, p *oidctest.Provider, m oidc.Mapping) *oidc.Client {
	t.Helper()
	c, err := oidc.New(oidc.Config{Issuer: p.Issuer(), ClientID: p.ClientID(), ClientSecret: p.ClientSecret(),
		RedirectURL: redirect, Mapping: m, Directory: directory})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// authorize follows the authorization URL as the browser would and returns
// the code and state the provider sends back to the redirect URL.
func authorize(t *testing.T, authURL string) (code, state string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirect+"?") {
		t.Fatalf("the provider answered %d, Location %q; want a redirect to %s", res.StatusCode, res.Header.Get("Location"), redirect)
	}
	return loc.Query().Get("code"), loc.Query().Get("state")
}

func TestSignInWithPKCE(t *testing.T) {
	p := oidctest.Start(t)
	c := newClient(t, p, oidc.Mapping{TenantClaim: "org", RoleMap: map[string][]string{"seatflow-admins": {auth.RoleGlobalAdmin}}})
	ctx := context.Background()

	authURL, st, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := mustQuery(t, authURL)
	for k, want := range map[string]string{"client_id": p.ClientID(), "redirect_uri": redirect, "response_type": "code",
		"scope": "openid profile email", "state": st.State, "nonce": st.Nonce, "code_challenge_method": "S256"} {
		if q.Get(k) != want {
			t.Errorf("authorization URL %s=%q, want %q", k, q.Get(k), want)
		}
	}
	if q.Get("code_challenge") == "" || strings.Contains(authURL, st.Verifier) {
		t.Errorf("the authorization URL carries no challenge, or the verifier itself: %s", authURL)
	}
	if _, other, _ := c.Begin(ctx); other.State == st.State || other.Nonce == st.Nonce || other.Verifier == st.Verifier {
		t.Errorf("two sign-ins share state, nonce or verifier")
	}

	p.Queue("00u1", map[string]any{"org": "contoso", "groups": []string{"everyone", "seatflow-admins"}})
	code, state := authorize(t, authURL)
	if state != st.State {
		t.Fatalf("the provider returned state %q, want %q", state, st.State)
	}
	got, err := c.Finish(ctx, code, st)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if want := (auth.Claims{Tenant: "contoso", Subject: "00u1", Roles: []string{"global-admin", "user"}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("principal %+v, want %+v", got, want)
	}
	if _, err := c.Finish(ctx, code, st); err == nil {
		t.Errorf("a code was redeemed twice")
	}
}

func TestFinishRefuses(t *testing.T) {
	p := oidctest.Start(t)
	c := newClient(t, p, oidc.Mapping{TenantClaim: "org"})
	ctx := context.Background()
	begin := func(claims map[string]any) (string, auth.LoginState) {
		t.Helper()
		authURL, st, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.Queue("00u1", claims)
		code, _ := authorize(t, authURL)
		return code, st
	}

	code, st := begin(map[string]any{"org": "contoso"})
	wrong := st
	wrong.Verifier = strings.Repeat("a", 43)
	if _, err := c.Finish(ctx, code, wrong); err == nil || errors.Is(err, auth.ErrUnmapped) || !strings.Contains(err.Error(), "redeem the code") {
		t.Errorf("another PKCE verifier: got %v, want the provider's refusal", err)
	}

	code, st = begin(map[string]any{"org": "contoso"})
	wrong = st
	wrong.Nonce = "replayed"
	if _, err := c.Finish(ctx, code, wrong); err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Errorf("another nonce: got %v", err)
	}

	code, st = begin(map[string]any{"groups": []string{"x"}})
	if _, err := c.Finish(ctx, code, st); !errors.Is(err, auth.ErrUnmapped) || !strings.Contains(err.Error(), `no claim "org"`) {
		t.Errorf("no tenant claim: got %v, want ErrUnmapped", err)
	}

	if _, err := c.Finish(ctx, "no-such-code", st); err == nil {
		t.Errorf("an unknown code was redeemed")
	}
}

// A provider that does not answer fails the sign-in, not the start; once
// it answers, sign-in works.
func TestDiscoveryIsLazy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := oidc.New(oidc.Config{Issuer: "http://" + addr + "/oidc", ClientID: "x", RedirectURL: redirect, Mapping: oidc.Mapping{Tenant: "acme"}})
	if err != nil {
		t.Fatalf("New reached for the provider: %v", err)
	}
	if _, _, err := c.Begin(context.Background()); err == nil || !strings.Contains(err.Error(), "discover") {
		t.Fatalf("Begin with the provider down: got %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := oidc.Config{Issuer: "https://login.example.com/tenant/v2.0", ClientID: "app", RedirectURL: "https://seatflow.example.com/console/callback",
		Mapping: oidc.Mapping{Tenant: "acme"}}
	if _, err := oidc.New(good); err != nil {
		t.Fatalf("a good config: %v", err)
	}
	cases := map[string]struct {
		mod  func(*oidc.Config)
		want string
	}{
		"no issuer":             {func(c *oidc.Config) { c.Issuer = "" }, "issuer"},
		"http issuer":           {func(c *oidc.Config) { c.Issuer = "http://login.example.com" }, "must be https"},
		"relative issuer":       {func(c *oidc.Config) { c.Issuer = "login.example.com" }, "not an absolute"},
		"no client id":          {func(c *oidc.Config) { c.ClientID = "" }, "client id is required"},
		"no redirect":           {func(c *oidc.Config) { c.RedirectURL = "" }, "redirect URL"},
		"no openid scope":       {func(c *oidc.Config) { c.Scopes = []string{"profile"} }, `lack "openid"`},
		"no tenant":             {func(c *oidc.Config) { c.Mapping = oidc.Mapping{} }, "the tenant is needed"},
		"redirect with a query": {func(c *oidc.Config) { c.RedirectURL += "?x=1" }, "without query"},
	}
	for name, tc := range cases {
		c := good
		tc.mod(&c)
		if _, err := oidc.New(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
	}
	for _, loop := range []string{"http://127.0.0.1:5556/dex", "http://localhost:8080/realms/x", "http://[::1]:9000"} {
		c := good
		c.Issuer = loop
		if _, err := oidc.New(c); err != nil {
			t.Errorf("a loopback issuer %s: %v", loop, err)
		}
	}
}

func mustQuery(t *testing.T, s string) url.Values {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
