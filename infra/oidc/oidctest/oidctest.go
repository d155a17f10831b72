// Package oidctest runs an OpenID Connect provider in tests: the
// github.com/oauth2-proxy/mockoidc server on a loopback port, which signs
// real RS256 ID tokens, publishes its keys and checks the PKCE verifier
// against the challenge, with the people who sign in queued by the test.
//
// It signs in without a login page: the authorization endpoint redirects
// straight back with a code for the next queued person (or mockoidc's
// default user when none is queued).
package oidctest

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

// Provider is a running test provider.
type Provider struct {
	m *mockoidc.MockOIDC
}

// Start runs a provider on 127.0.0.1 with a random client id and secret,
// stopped at cleanup. It accepts PKCE S256 only.
func Start(t testing.TB) *Provider {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatalf("start the OIDC provider: %v", err)
	}
	m.CodeChallengeMethodsSupported = []string{"S256"}
	t.Cleanup(func() { _ = m.Shutdown() })
	return &Provider{m: m}
}

// Issuer is the provider's issuer URL.
func (p *Provider) Issuer() string { return p.m.Issuer() }

// ClientID and ClientSecret are the one client the provider knows.
func (p *Provider) ClientID() string     { return p.m.ClientID }
func (p *Provider) ClientSecret() string { return p.m.ClientSecret }

// Queue makes sub the next person to sign in, with claims added to the ID
// token (e.g. "groups", "email", a tenant claim).
func (p *Provider) Queue(sub string, claims map[string]any) {
	p.m.QueueUser(&user{sub: sub, claims: maps.Clone(claims)})
}

// user is a person whose ID token carries arbitrary claims.
type user struct {
	sub    string
	claims map[string]any
}

func (u *user) ID() string { return u.sub }

func (u *user) Userinfo([]string) ([]byte, error) { return json.Marshal(u.claims) }

func (u *user) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return &idClaims{IDTokenClaims: base, extra: u.claims}, nil
}

// idClaims are the standard claims mockoidc sets plus the person's own.
type idClaims struct {
	*mockoidc.IDTokenClaims
	extra map[string]any
}

func (c *idClaims) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(c.IDTokenClaims)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range c.extra {
		if _, standard := m[k]; !standard {
			m[k] = v
		}
	}
	return json.Marshal(m)
}
